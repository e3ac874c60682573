//! Container checks: exists, running, exited, absent, settings, published port, bind mount,
//! volume mount, logs, compose project.

use std::path::Path;

use gantry_engine::{ContainerDetails, ContainerFilter, ContainerState, Engine, LogOptions};

use super::{CheckResult, Eval, answered, optional};
use crate::check::{
    BindMount, ComposeUp, ContainerExited, ContainerSelector, ContainerSettings, LogsContain, PortPublished,
    VolumeMounted,
};
use crate::placeholders::Values;

/// Most lines of a container's output searched by `logs_contain` (the newest).
const LOG_TAIL: u64 = 5_000;

/// `repo` and `repo:latest` name the same image.
pub(crate) fn same_reference(a: &str, b: &str) -> bool {
    let norm = |r: &str| {
        let r = r.strip_prefix("docker.io/").unwrap_or(r);
        let r = r.strip_prefix("library/").unwrap_or(r);
        let (repo, tag) = gantry_engine::images::split_tag(r);
        format!("{repo}:{tag}")
    };
    a == b || norm(a) == norm(b)
}

/// The containers (running or not) the selector names, inspected: the inspect answer is the
/// container's live state, while the engine's list can lag behind an event it just sent (an engine
/// reports `die` before its list says `exited`).
pub(crate) async fn select(engine: &Engine, selector: &ContainerSelector) -> Eval<Vec<ContainerDetails>> {
    if let Some(name) = &selector.container {
        // Inspecting by name also matches ID prefixes: keep only the container of that name.
        let found = optional(engine.inspect_container(name).await)?;
        return Ok(found.into_iter().filter(|d| &d.name == name).collect());
    }
    let Some(image) = &selector.image else { return Ok(Vec::new()) };
    let image_id = optional(engine.inspect_image(image).await)?.map(|d| d.id);
    let all = answered(engine.list_containers(&ContainerFilter { all: true, ..Default::default() }).await)?;
    let mut found = Vec::new();
    for c in
        all.iter().filter(|c| same_reference(&c.image, image) || image_id.as_deref().is_some_and(|id| c.image_id == id))
    {
        if let Some(details) = optional(engine.inspect_container(&c.id).await)? {
            found.push(details);
        }
    }
    Ok(found)
}

fn describe(selector: &ContainerSelector) -> (String, String) {
    match (&selector.container, &selector.image) {
        (Some(name), _) => (format!("container `{name}`"), format!("контейнер `{name}`")),
        (None, Some(image)) => (format!("a container from image `{image}`"), format!("контейнер из образа `{image}`")),
        (None, None) => ("a container".into(), "контейнер".into()),
    }
}

fn missing(selector: &ContainerSelector) -> CheckResult {
    let (en, ru) = describe(selector);
    CheckResult::fail(format!("there is no {en}"), format!("{ru} не найден"))
}

pub async fn exists(engine: &Engine, selector: &ContainerSelector) -> Eval<CheckResult> {
    let found = select(engine, selector).await?;
    Ok(if found.is_empty() { missing(selector) } else { CheckResult::pass() })
}

fn state_words(state: ContainerState) -> (&'static str, &'static str) {
    match state {
        ContainerState::Created => ("created but not started", "создан, но не запущен"),
        ContainerState::Running => ("running", "работает"),
        ContainerState::Paused => ("paused", "приостановлен"),
        ContainerState::Restarting => ("restarting", "перезапускается"),
        ContainerState::Exited => ("exited", "завершился"),
        ContainerState::Removing => ("being removed", "удаляется"),
        ContainerState::Dead => ("dead", "в состоянии dead"),
        ContainerState::Unknown => ("in an unknown state", "в неизвестном состоянии"),
    }
}

pub async fn running(engine: &Engine, selector: &ContainerSelector) -> Eval<CheckResult> {
    let found = select(engine, selector).await?;
    if found.iter().any(|c| c.state == ContainerState::Running) {
        return Ok(CheckResult::pass());
    }
    Ok(match found.first() {
        None => missing(selector),
        Some(c) => {
            let (en, ru) = state_words(c.state);
            CheckResult::fail(format!("`{}` is {en}", c.name), format!("`{}` {ru}", c.name))
        }
    })
}

pub async fn exited(engine: &Engine, check: &ContainerExited) -> Eval<CheckResult> {
    let selector = ContainerSelector { container: check.container.clone(), image: check.image.clone() };
    let found = select(engine, &selector).await?;
    let exited: Vec<&ContainerDetails> = found.iter().filter(|c| c.state == ContainerState::Exited).collect();
    if exited.iter().any(|c| check.exit_code.is_none_or(|want| c.exit_code == Some(want))) {
        return Ok(CheckResult::pass());
    }
    Ok(match (exited.first().and_then(|c| c.exit_code), found.first()) {
        (Some(got), _) => CheckResult::fail(
            format!("it exited with code {got}, not {}", check.exit_code.unwrap_or_default()),
            format!("он завершился с кодом {got}, а не {}", check.exit_code.unwrap_or_default()),
        ),
        (None, Some(c)) => {
            let (en, ru) = state_words(c.state);
            CheckResult::fail(format!("`{}` is {en}", c.name), format!("`{}` {ru}", c.name))
        }
        (None, None) => missing(&selector),
    })
}

pub async fn absent(engine: &Engine, selector: &ContainerSelector) -> Eval<CheckResult> {
    let found = select(engine, selector).await?;
    let names: Vec<String> = found.iter().map(|c| format!("`{}`", c.name)).collect();
    Ok(CheckResult::given(
        found.is_empty(),
        format!("still there: {}", names.join(", ")),
        format!("ещё не удалены: {}", names.join(", ")),
    ))
}

/// One container by name, inspected; `Err(fail)` when it does not exist.
async fn named(engine: &Engine, name: &str) -> Eval<ContainerDetails> {
    match optional(engine.inspect_container(name).await)? {
        Some(d) => Ok(d),
        None => Err(CheckResult::fail(format!("there is no container `{name}`"), format!("нет контейнера `{name}`"))),
    }
}

/// True for a user that is root: empty (the image default, root), `root`, `0`, `0:…`, `root:…`.
pub(crate) fn is_root_user(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or("").trim();
    name.is_empty() || name == "root" || name == "0"
}

fn strip_cap(cap: &str) -> String {
    let upper = cap.trim().to_ascii_uppercase();
    upper.strip_prefix("CAP_").map(str::to_string).unwrap_or(upper)
}

pub async fn settings(engine: &Engine, check: &ContainerSettings) -> Eval<CheckResult> {
    let d = named(engine, &check.container).await?;
    let host = &d.raw["HostConfig"];
    let mut en = Vec::new();
    let mut ru = Vec::new();
    if check.read_only_rootfs == Some(true) && host["ReadonlyRootfs"].as_bool() != Some(true) {
        en.push("its root filesystem is writable (--read-only)".to_string());
        ru.push("корневая ФС доступна для записи (--read-only)".to_string());
    }
    if check.user_not_root == Some(true) {
        let user = d.raw["Config"]["User"].as_str().unwrap_or("");
        if is_root_user(user) {
            en.push("it runs as root (--user)".to_string());
            ru.push("он работает от root (--user)".to_string());
        }
    }
    let dropped: Vec<String> =
        host["CapDrop"].as_array().into_iter().flatten().filter_map(|c| c.as_str()).map(strip_cap).collect();
    let not_dropped: Vec<String> =
        check.cap_drop.iter().map(|c| strip_cap(c)).filter(|c| !dropped.contains(c)).collect();
    if !not_dropped.is_empty() {
        en.push(format!("capabilities not dropped: {} (--cap-drop)", not_dropped.join(", ")));
        ru.push(format!("не сброшены возможности: {} (--cap-drop)", not_dropped.join(", ")));
    }
    if let Some(max) = check.memory_max {
        let limit = host["Memory"].as_i64().unwrap_or(0);
        if limit <= 0 || limit as u64 > max.0 {
            en.push(format!("its memory limit is not at most {max} (--memory)"));
            ru.push(format!("лимит памяти не задан или больше {max} (--memory)"));
        }
    }
    if let Some(max) = check.pids_max {
        let limit = host["PidsLimit"].as_i64().unwrap_or(0);
        if limit <= 0 || limit > max {
            en.push(format!("its process limit is not at most {max} (--pids-limit)"));
            ru.push(format!("лимит процессов не задан или больше {max} (--pids-limit)"));
        }
    }
    if check.no_new_privileges == Some(true) {
        let set = host["SecurityOpt"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o.as_str())
            .any(|o| o == "no-new-privileges" || o == "no-new-privileges:true" || o == "no-new-privileges=true");
        if !set {
            en.push("it may gain new privileges (--security-opt no-new-privileges)".to_string());
            ru.push("он может повысить привилегии (--security-opt no-new-privileges)".to_string());
        }
    }
    Ok(CheckResult::given(en.is_empty(), en.join("; "), ru.join("; ")))
}

pub async fn port_published(engine: &Engine, check: &PortPublished, values: &Values) -> Eval<CheckResult> {
    let d = named(engine, &check.container).await?;
    let protocol = check.protocol.as_deref().unwrap_or("tcp");
    let want = values.ports.get(&check.port).copied();
    let bindings: Vec<_> =
        d.ports.iter().filter(|p| p.container_port == check.container_port && p.protocol == protocol).collect();
    let on_port: Vec<_> = bindings.iter().filter(|p| want.is_some() && p.host_port == want).collect();
    let ip_ok = |ip: &Option<String>| check.host_ip.is_none() || ip == &check.host_ip;
    if on_port.iter().any(|p| ip_ok(&p.host_ip)) {
        return Ok(CheckResult::pass());
    }
    let want_text = want.map_or_else(|| check.port.clone(), |p| p.to_string());
    if let (Some(binding), Some(only)) = (on_port.first(), &check.host_ip) {
        let actual = binding.host_ip.clone().unwrap_or_else(|| "0.0.0.0".into());
        return Ok(CheckResult::fail(
            format!(
                "port {want_text} is published on {actual}, not only on {only} (-p {only}:{want_text}:{})",
                check.container_port
            ),
            format!(
                "порт {want_text} опубликован на {actual}, а не только на {only} (-p {only}:{want_text}:{})",
                check.container_port
            ),
        ));
    }
    Ok(match bindings.iter().find_map(|p| p.host_port) {
        Some(other) => CheckResult::fail(
            format!("port {} is published on host port {other}, not {want_text}", check.container_port),
            format!("порт {} опубликован на порту хоста {other}, а не {want_text}", check.container_port),
        ),
        None => CheckResult::fail(
            format!(
                "port {} of `{}` is not published (-p {want_text}:{})",
                check.container_port, check.container, check.container_port
            ),
            format!(
                "порт {} контейнера `{}` не опубликован (-p {want_text}:{})",
                check.container_port, check.container, check.container_port
            ),
        ),
    })
}

/// A path as the engine's host sees it, for comparison: separators unified, no trailing slash,
/// symbolic links resolved when the path exists here.
fn comparable(path: &Path) -> String {
    let resolved = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let text = resolved.to_string_lossy().replace('\\', "/");
    text.trim_end_matches('/').to_string()
}

pub async fn bind_mount(engine: &Engine, check: &BindMount, work_dir: &Path) -> Eval<CheckResult> {
    let d = named(engine, &check.container).await?;
    let want = comparable(&work_dir.join(&check.source));
    let binds: Vec<_> = d.mounts.iter().filter(|m| m.kind == "bind").collect();
    let found = binds
        .iter()
        .any(|m| comparable(Path::new(&m.source)) == want && check.target.as_ref().is_none_or(|t| &m.target == t));
    if found {
        return Ok(CheckResult::pass());
    }
    let target = check.target.as_deref().unwrap_or("…");
    Ok(match binds.first() {
        Some(m) => CheckResult::fail(
            format!("it mounts {} at {}, not {want} at {target}", m.source, m.target),
            format!("он подключает {} в {}, а не {want} в {target}", m.source, m.target),
        ),
        None => CheckResult::fail(
            format!("`{}` mounts no host folder (-v {want}:{target})", check.container),
            format!("`{}` не подключает папок хоста (-v {want}:{target})", check.container),
        ),
    })
}

pub async fn volume_mounted(engine: &Engine, check: &VolumeMounted) -> Eval<CheckResult> {
    let d = named(engine, &check.container).await?;
    let found = d.mounts.iter().any(|m| {
        m.kind == "volume" && m.source == check.volume && check.target.as_ref().is_none_or(|t| &m.target == t)
    });
    let target = check.target.as_deref().unwrap_or("…");
    Ok(CheckResult::given(
        found,
        format!("`{}` does not mount volume `{}` (-v {}:{target})", check.container, check.volume, check.volume),
        format!("`{}` не подключает том `{}` (-v {}:{target})", check.container, check.volume, check.volume),
    ))
}

pub async fn logs_contain(engine: &Engine, check: &LogsContain) -> Eval<CheckResult> {
    named(engine, &check.container).await?;
    let options = LogOptions { tail: Some(LOG_TAIL), ..Default::default() };
    let lines: Vec<gantry_engine::LogLine> =
        optional(engine.read_logs(&check.container, &options).await)?.unwrap_or_default();
    let found = lines.iter().any(|l| l.text.contains(&check.text));
    Ok(CheckResult::given(
        found,
        format!("`{}` has not printed `{}` yet", check.container, check.text),
        format!("`{}` ещё не напечатал `{}`", check.container, check.text),
    ))
}

pub async fn compose_up(engine: &Engine, check: &ComposeUp) -> Eval<CheckResult> {
    let filter = ContainerFilter { all: true, compose_project: Some(check.project.clone()), ..Default::default() };
    let containers = answered(engine.list_containers(&filter).await)?;
    if containers.is_empty() {
        return Ok(CheckResult::fail(
            format!(
                "compose project `{}` has no containers (docker compose -p {} up -d)",
                check.project, check.project
            ),
            format!(
                "у проекта Compose `{}` нет контейнеров (docker compose -p {} up -d)",
                check.project, check.project
            ),
        ));
    }
    let not_running: Vec<String> = check
        .services
        .iter()
        .filter(|s| {
            !containers
                .iter()
                .any(|c| c.compose_service.as_deref() == Some(s.as_str()) && c.state == ContainerState::Running)
        })
        .map(|s| format!("`{s}`"))
        .collect();
    Ok(CheckResult::given(
        not_running.is_empty(),
        format!("not running: {}", not_running.join(", ")),
        format!("не запущены: {}", not_running.join(", ")),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn references_and_users() {
        assert!(same_reference("nginx", "nginx:latest"));
        assert!(same_reference("docker.io/library/nginx:1.27", "nginx:1.27"));
        assert!(!same_reference("nginx:1.27", "nginx:1.26"));
        assert!(is_root_user(""));
        assert!(is_root_user("0:0"));
        assert!(is_root_user("root"));
        assert!(!is_root_user("app"));
        assert!(!is_root_user("1000:1000"));
        assert_eq!(strip_cap("cap_net_raw"), "NET_RAW");
    }
}
