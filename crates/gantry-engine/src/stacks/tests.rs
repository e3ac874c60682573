//! Compose files to Swarm specs, checked against what `docker stack deploy` makes of them.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use proptest::prelude::*;

use super::convert::short_ports;
use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "TAG" => Some("2".into()),
        "FROM_HOST" => Some("yes".into()),
        _ => None,
    }
}

fn plan(text: &str) -> Result<StackPlan> {
    plan_stack("shop", text, Path::new("/srv/shop"), &env)
}

fn error_at(text: &str) -> (String, String) {
    match plan(text) {
        Err(EngineError::InvalidCompose { location, message }) => (location, message),
        other => panic!("expected a compose error, got {other:?}"),
    }
}

const SHOP: &str = r#"
version: "3.8"
x-defaults: &defaults
  restart: always
  labels:
    team: web
services:
  web:
    <<: *defaults
    image: "shop/web:${TAG}"
    command: nginx -g 'daemon off;'
    environment:
      MODE: prod
      FROM_HOST:
      NOT_SET:
    ports:
      - "8080:80"
      - target: 443
        published: 8443
        mode: host
    volumes:
      - static:/srv/static:ro
      - ./conf:/etc/nginx/conf.d
      - /cache
    networks: [front, back]
    healthcheck:
      test: wget -q -O- localhost
      interval: 10s
      retries: 3
    deploy:
      replicas: 3
      labels: {tier: front}
      update_config: {parallelism: 1, delay: 5s, order: start-first, failure_action: rollback}
      restart_policy: {condition: on-failure, max_attempts: 3}
      resources:
        limits: {cpus: "0.5", memory: 256M}
      placement:
        constraints: [node.role == worker]
  db:
    image: postgres:16
    build: ./db
    depends_on: [web]
    volumes:
      - type: volume
        source: data
        target: /var/lib/postgresql/data
    networks:
      back:
        aliases: [database]
    deploy:
      mode: global
  job:
    image: busybox
    entrypoint: ["sh", "-c"]
    command: ["echo hi"]
networks:
  front:
  back:
    driver_opts: {encrypted: ""}
volumes:
  static:
  data:
    external: true
    name: pgdata
"#;

#[test]
fn a_compose_file_becomes_services_named_and_labelled_as_docker_stack_deploy_does() {
    let plan = plan(SHOP).unwrap();
    let names: Vec<_> = plan.services.iter().map(|s| s.spec.name.clone().unwrap()).collect();
    assert_eq!(names, ["shop_db", "shop_job", "shop_web"]);
    let web = &plan.services.iter().find(|s| s.short_name == "web").unwrap().spec;
    let labels = web.labels.as_ref().unwrap();
    assert_eq!(labels.get(STACK_LABEL).map(String::as_str), Some("shop"));
    assert_eq!(labels.get("tier").map(String::as_str), Some("front"));
    assert_eq!(labels.get(convert::STACK_IMAGE_LABEL).map(String::as_str), Some("shop/web:2"));
    assert_eq!(web.mode.as_ref().unwrap().replicated.as_ref().unwrap().replicas, Some(3));

    let task = web.task_template.as_ref().unwrap();
    let container = task.container_spec.as_ref().unwrap();
    assert_eq!(container.image.as_deref(), Some("shop/web:2"));
    assert_eq!(container.args.as_deref().unwrap(), ["nginx", "-g", "daemon off;"]);
    assert_eq!(container.env.as_deref().unwrap(), ["FROM_HOST=yes", "MODE=prod"], "unset ones are left out");
    assert_eq!(
        container.labels.as_ref().unwrap().get("team").map(String::as_str),
        Some("web"),
        "merged from x-defaults"
    );
    let health = container.health_check.as_ref().unwrap();
    assert_eq!(health.test.as_deref().unwrap(), ["CMD-SHELL", "wget -q -O- localhost"]);
    assert_eq!(health.interval, Some(10_000_000_000));

    let mounts = container.mounts.as_ref().unwrap();
    assert_eq!(mounts[0].source.as_deref(), Some("shop_static"));
    assert_eq!(mounts[0].read_only, Some(true));
    assert_eq!(mounts[1].source.as_deref(), Some("/srv/shop/conf"), "relative to the compose file's folder");
    assert_eq!(mounts[2].source, None, "an anonymous volume");

    let limits = task.resources.as_ref().unwrap().limits.as_ref().unwrap();
    assert_eq!((limits.nano_cpus, limits.memory_bytes), (Some(500_000_000), Some(256 << 20)));
    assert_eq!(task.placement.as_ref().unwrap().constraints.as_deref().unwrap(), ["node.role == worker"]);
    let update = web.update_config.as_ref().unwrap();
    assert_eq!((update.parallelism, update.delay), (Some(1), Some(5_000_000_000)));
    assert_eq!(update.order.unwrap().to_string(), "start-first");

    let networks: Vec<_> = task.networks.as_ref().unwrap().iter().map(|n| n.target.clone().unwrap()).collect();
    assert_eq!(networks, ["shop_front", "shop_back"]);
    assert_eq!(task.networks.as_ref().unwrap()[0].aliases.as_deref().unwrap(), ["web"]);

    let ports = web.endpoint_spec.as_ref().unwrap().ports.as_ref().unwrap();
    assert_eq!((ports[0].published_port, ports[0].target_port), (Some(8080), Some(80)));
    assert_eq!(ports[1].publish_mode.unwrap().to_string(), "host");

    let db = &plan.services.iter().find(|s| s.short_name == "db").unwrap().spec;
    assert!(db.mode.as_ref().unwrap().global.is_some());
    let db_task = db.task_template.as_ref().unwrap();
    assert_eq!(db_task.container_spec.as_ref().unwrap().mounts.as_ref().unwrap()[0].source.as_deref(), Some("pgdata"));
    assert_eq!(db_task.networks.as_ref().unwrap()[0].aliases.as_deref().unwrap(), ["db", "database"]);

    let job = &plan.services.iter().find(|s| s.short_name == "job").unwrap().spec;
    let job_container = job.task_template.as_ref().unwrap().container_spec.as_ref().unwrap();
    assert_eq!(job_container.command.as_deref().unwrap(), ["sh", "-c"]);
    assert_eq!(
        job.task_template.as_ref().unwrap().networks.as_ref().unwrap()[0].target.as_deref(),
        Some("shop_default")
    );

    // only the networks in use, made as overlays with the stack's label
    let made: Vec<_> = plan.networks.iter().map(|n| (n.name.as_str(), n.external)).collect();
    assert_eq!(made, [("shop_back", false), ("shop_default", false), ("shop_front", false)]);
    assert!(plan.networks.iter().all(|n| n.create.driver.as_deref() == Some("overlay")));
    assert!(
        plan.warnings.iter().any(|w| w.contains("build") && w.contains("depends_on") && w.contains("restart")),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn what_cannot_be_deployed_is_refused_with_its_place() {
    let cases = [
        ("services:\n  a:\n    command: x\n", "services.a.image", "build"),
        ("services:\n  a:\n    image: x\n    logging: {driver: none}\n", "services.a.logging", "does not read"),
        ("services:\n  a:\n    image: x\n    mem_limit: 1g\n", "services.a.mem_limit", "deploy.resources"),
        ("services:\n  a:\n    image: x\nsecrets:\n  s: {file: ./nope}\n", "secrets.s.file", "cannot read"),
        ("services:\n  a:\n    image: x\n    secrets: [nope]\n", "services.a.secrets[0]", "not defined"),
        ("services:\n  a:\n    image: x\nsecrets:\n  s: {content: x}\n", "secrets.s.content", "does not read"),
        ("services:\n  a:\n    image: x\nconfigs:\n  c: {}\n", "configs.c", "exactly one of"),
        ("services:\n  a:\n    image: x\nconfigs:\n  c: {external: true, content: x}\n", "configs.c", "external"),
        ("services:\n  a:\n    image: x\nsecrets:\n  s: {environment: UNSET}\n", "secrets.s.environment", "not set"),
        (
            "services:\n  a:\n    image: x\n    configs: [{source: c, mode: 0999}]\nconfigs:\n  c: {content: x}\n",
            "services.a.configs[0].mode",
            "file mode",
        ),
        ("services:\n  a:\n    image: x\n    networks: [nope]\n", "services.a.networks.nope", "not defined"),
        ("services:\n  a:\n    image: x\n    volumes: [\"nope:/d\"]\n", "services.a.volumes[0]", "not defined"),
        (
            "services:\n  a:\n    image: x\n    ports: [\"127.0.0.1:80:80\"]\n",
            "services.a.ports[0]",
            "without an address",
        ),
        (
            "services:\n  a:\n    image: x\n    deploy: {mode: global, replicas: 2}\n",
            "services.a.deploy.replicas",
            "global",
        ),
        (
            "services:\n  a:\n    image: x\n    deploy: {update_config: {delay: 5}}\n",
            "services.a.deploy.update_config.delay",
            "duration",
        ),
        ("services:\n  a:\n    image: x\n    deploy: {replicas: many}\n", "services.a.deploy.replicas", "number"),
        ("services: {}\n", "services", "no services"),
        ("services:\n  a:\n    image: x\nbogus: 1\n", "bogus", "top-level"),
    ];
    for (text, location, words) in cases {
        let (at, message) = error_at(text);
        assert_eq!(at, location, "{text}: {message}");
        assert!(message.contains(words), "{text}: {message}");
    }
    assert!(matches!(
        plan_stack("Bad Name", "services:\n  a:\n    image: x\n", Path::new("/"), &env),
        Err(EngineError::InvalidCompose { .. })
    ));
}

#[test]
fn env_files_are_read_next_to_the_compose_file_and_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.env"), "# comment\nA=from-file\nexport B=\"quoted\"\nC=file\n").unwrap();
    let text = "services:\n  a:\n    image: x\n    env_file: app.env\n    environment: [C=compose]\n";
    let plan = plan_stack("s", text, dir.path(), &env).unwrap();
    let container = plan.services[0].spec.task_template.as_ref().unwrap().container_spec.clone().unwrap();
    assert_eq!(container.env.unwrap(), ["A=from-file", "B=quoted", "C=compose"]);
    let missing = plan_stack("s", "services:\n  a:\n    image: x\n    env_file: nope.env\n", dir.path(), &env);
    assert!(
        matches!(missing, Err(EngineError::InvalidCompose { ref location, .. }) if location == "services.a.env_file[0]")
    );
}

#[test]
fn secrets_and_configs_are_read_and_referenced_as_docker_stack_deploy_does() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("db_password.txt"), "s3cret\n").unwrap();
    let text = r#"
services:
  db:
    image: postgres
    secrets:
      - db_password
      - source: api_key
        target: api.key
        uid: "70"
        gid: 70
        mode: 0400
      - shared_cert
    configs:
      - site
      - {source: site, target: /etc/nginx/site.conf, mode: "0440"}
secrets:
  db_password: {file: ./db_password.txt}
  api_key: {environment: TAG, labels: {team: web}}
  shared_cert: {external: true}
configs:
  site:
    content: "server {}"
    name: site_v2
"#;
    let plan = plan_stack("shop", text, dir.path(), &env).unwrap();
    let objects: Vec<_> = plan
        .objects
        .iter()
        .map(|o| (o.kind, o.name.as_str(), o.external, String::from_utf8_lossy(&o.data).into_owned()))
        .collect();
    use crate::swarm_objects::SwarmObjectKind::{Config, Secret};
    assert_eq!(
        objects,
        [
            (Secret, "shop_api_key", false, "2".to_string()),
            (Secret, "shop_db_password", false, "s3cret\n".to_string()),
            (Secret, "shared_cert", true, String::new()),
            (Config, "site_v2", false, "server {}".to_string()),
        ]
    );
    let api_key = &plan.objects[0];
    assert_eq!(api_key.labels.get(STACK_LABEL).map(String::as_str), Some("shop"));
    assert_eq!(api_key.labels.get("team").map(String::as_str), Some("web"));

    let container = plan.services[0].spec.task_template.as_ref().unwrap().container_spec.clone().unwrap();
    let secrets: Vec<_> = container
        .secrets
        .unwrap()
        .into_iter()
        .map(|r| {
            let f = r.file.unwrap();
            (r.secret_name.unwrap(), f.name.unwrap(), f.uid.unwrap(), f.gid.unwrap(), f.mode.unwrap())
        })
        .collect();
    assert_eq!(
        secrets,
        [
            ("shop_db_password".into(), "db_password".into(), "0".into(), "0".into(), 0o444),
            ("shop_api_key".into(), "api.key".into(), "70".into(), "70".into(), 0o400),
            ("shared_cert".into(), "shared_cert".into(), "0".into(), "0".into(), 0o444),
        ]
    );
    let configs: Vec<_> = container
        .configs
        .unwrap()
        .into_iter()
        .map(|r| {
            (r.config_name.unwrap(), r.file.as_ref().unwrap().name.clone().unwrap(), r.file.unwrap().mode.unwrap())
        })
        .collect();
    assert_eq!(
        configs,
        [("site_v2".into(), "/site".into(), 0o444), ("site_v2".into(), "/etc/nginx/site.conf".into(), 0o440)]
    );
}

#[test]
fn file_modes_read_as_the_compose_documentation_writes_them() {
    use serde_json::json;
    // `mode: 0440` reaches the reader as the number 440; `0o440` as 288; strings are octal
    for (value, mode) in
        [(json!(440), 0o440), (json!(288), 0o440), (json!("0440"), 0o440), (json!("0o644"), 0o644), (json!(7), 7)]
    {
        assert_eq!(objects::file_mode(&value, "m").unwrap(), mode, "{value}");
    }
    for bad in [json!(1000), json!("9"), json!(-1), json!(true), json!("0o1000")] {
        assert!(objects::file_mode(&bad, "m").is_err(), "{bad}");
    }
}

#[test]
fn short_port_forms() {
    let p = short_ports("8080-8081:80-81/udp").unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!((p[1]["PublishedPort"].as_u64(), p[1]["TargetPort"].as_u64()), (Some(8081), Some(81)));
    assert_eq!(p[0]["Protocol"], "udp");
    assert!(short_ports("80").unwrap()[0].get("PublishedPort").is_none());
    for bad in ["0:80", "80:70000", "8080-8082:80-81", "80/icmp", "a:b", ""] {
        assert!(short_ports(bad).is_err(), "{bad}");
    }
}

proptest! {
    #[test]
    fn any_published_target_pair_reads_back(published in 1u16.., target in 1u16.., udp in any::<bool>()) {
        let proto = if udp { "udp" } else { "tcp" };
        let p = short_ports(&format!("{published}:{target}/{proto}")).unwrap();
        prop_assert_eq!(p.len(), 1);
        prop_assert_eq!(p[0]["PublishedPort"].as_u64(), Some(u64::from(published)));
        prop_assert_eq!(p[0]["TargetPort"].as_u64(), Some(u64::from(target)));
        prop_assert_eq!(p[0]["Protocol"].as_str(), Some(proto));
    }

    #[test]
    fn port_text_never_panics(text in "[0-9:/a-z.-]{0,24}") {
        let _ = short_ports(&text);
    }

    #[test]
    fn any_compose_text_plans_or_fails_without_panicking(text in "(services:\n  a:\n    image: x\n)?[ -~\n]{0,120}") {
        let _ = plan(&text);
    }
}
