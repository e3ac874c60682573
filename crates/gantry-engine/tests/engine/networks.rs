//! Networks: name resolution between containers, internal networks, subnets, connect and
//! disconnect, list with members, remove, prune.

use gantry_engine::{EngineError, NetworkSpec};

use crate::common::{setup, setup_exclusive};

#[tokio::test]
async fn two_containers_on_a_user_network_reach_each_other_by_name() {
    let t = setup("net-dns").await;
    let net = t.network(NetworkSpec::default()).await;
    let mut server = t.sh("srv", "echo hello-over-the-network > /var/www/index.html; exec httpd -f -p 80 -h /var/www");
    server.network = Some(net.clone());
    let server_name = server.name.clone().unwrap();
    t.run(&server).await;
    let mut client = t.sh(
        "cli",
        &format!(
            "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://{server_name}/ && break; sleep 0.3; done; ping -c1 -W2 {server_name} >/dev/null && echo ping-ok"
        ),
    );
    client.network = Some(net.clone());
    let c = t.run(&client).await;
    t.wait_exit(&c).await;
    let logs = t.log_text(&c).await;
    assert!(logs.contains("hello-over-the-network"), "{logs}");
    assert!(logs.contains("ping-ok"), "{logs}");
}

#[tokio::test]
async fn internal_network_with_subnet_lists_its_members() {
    let t = setup("net-internal").await;
    let subnet = format!("192.168.{}.0/24", 200 + std::process::id() % 50);
    let spec = NetworkSpec {
        name: t.name("int"),
        internal: true,
        subnet: Some(subnet.clone()),
        labels: vec![("org.gantry.test".into(), "1".into())],
        ..Default::default()
    };
    let net = t.network(spec).await;
    let mut member = t.sh("m", "ip -4 addr show eth0 | grep inet; sleep 60");
    member.network = Some(net.clone());
    let name = member.name.clone().unwrap();
    let id = t.run(&member).await;
    let prefix = subnet.trim_end_matches("0/24");
    t.wait_for_log(&id, &format!("inet {prefix}"), 10).await;
    let list = t.engine.list_networks().await.unwrap();
    let row = list.iter().find(|n| n.name == net).expect("listed");
    assert!(row.internal && !row.builtin, "{row:?}");
    assert_eq!(row.subnets, vec![subnet.clone()]);
    assert_eq!(row.driver, "bridge");
    assert!(row.containers.iter().any(|m| m.container == name && m.ipv4.starts_with(prefix)), "{row:?}");
    assert!(list.iter().any(|n| n.name == "bridge" && n.builtin));
}

#[tokio::test]
async fn connect_and_disconnect() {
    let t = setup("net-connect").await;
    let net = t.network(NetworkSpec::default()).await;
    let id = t.sleeper("c").await;
    t.engine.connect_network(&net, &id, &["alias-one".to_string()]).await.unwrap();
    assert!(t.inspect(&id).await.networks.contains_key(&net));
    let out = t.engine.exec_output(&id, &["sh", "-c", "ip -4 -o addr | grep -c inet"]).await.unwrap();
    assert_eq!(out.stdout.trim(), "3", "lo + bridge + the new network: {out:?}");
    t.engine.disconnect_network(&net, &id, false).await.unwrap();
    assert!(!t.inspect(&id).await.networks.contains_key(&net));
    let row = t.engine.list_networks().await.unwrap().into_iter().find(|n| n.name == net).unwrap();
    assert!(row.containers.is_empty(), "{row:?}");
}

#[tokio::test]
async fn remove_and_duplicate_names() {
    let t = setup("net-rm").await;
    let net = t.network(NetworkSpec::default()).await;
    let err = t.engine.create_network(&NetworkSpec { name: net.clone(), ..Default::default() }).await.unwrap_err();
    assert!(matches!(err, EngineError::NameInUse { ref name } if *name == net), "{err:?}");
    t.engine.remove_network(&net).await.unwrap();
    assert!(!t.engine.list_networks().await.unwrap().iter().any(|n| n.name == net));
    let err = t.engine.remove_network(&net).await.unwrap_err();
    assert!(matches!(err, EngineError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn prune_removes_unused_networks() {
    let Some(t) = setup_exclusive("net-prune").await else { return };
    let unused = t.network(NetworkSpec::default()).await;
    let used = t.network(NetworkSpec::default()).await;
    let mut spec = t.sh("user", "sleep 60");
    spec.network = Some(used.clone());
    t.run(&spec).await;
    let report = t.engine.prune_networks().await.unwrap();
    assert!(report.deleted.contains(&unused), "{report:?}");
    assert!(!report.deleted.contains(&used), "{report:?}");
}
