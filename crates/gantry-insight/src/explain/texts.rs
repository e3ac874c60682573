//! From an event and its context to a situation, and from a situation to words.

use gantry_engine::Event;

use super::lab_topics as labs;
use super::{EventContext, Explanation, Situation, Tone};
use crate::Lang;
use crate::lang::fill;

/// A situation's texts: tone, headline and meaning in English and Russian, and its lab.
struct Entry {
    tone: Tone,
    headline: (&'static str, &'static str),
    meaning: (&'static str, &'static str),
    lab: Option<&'static str>,
}

const fn entry(
    tone: Tone,
    headline: (&'static str, &'static str),
    meaning: (&'static str, &'static str),
    lab: Option<&'static str>,
) -> Entry {
    Entry { tone, headline, meaning, lab }
}

fn catalog(situation: Situation) -> Entry {
    use Situation as S;
    use Tone::{Good, Info, Problem, Warning};
    match situation {
        S::ContainerCreated => entry(
            Info,
            ("Container {name} was created from image {image}", "Контейнер {name} создан из образа {image}"),
            ("It exists but does not run until it is started.", "Он существует, но не работает, пока его не запустят."),
            Some(labs::FIRST_CONTAINER),
        ),
        S::ContainerStarted => entry(
            Good,
            ("Container {name} started", "Контейнер {name} запущен"),
            (
                "Its main process runs now; the container lives as long as that process does.",
                "Его главный процесс работает; контейнер живёт, пока живёт этот процесс.",
            ),
            Some(labs::FIRST_CONTAINER),
        ),
        S::ContainerFinished => entry(
            Info,
            ("Container {name} finished (exit code 0)", "Контейнер {name} завершил работу (код выхода 0)"),
            (
                "Its main process ended successfully. A container stops when its main process ends; to keep a server running, its command must not end.",
                "Его главный процесс успешно завершился. Контейнер останавливается, когда завершается главный процесс; чтобы сервер продолжал работать, его команда не должна заканчиваться.",
            ),
            Some(labs::FIRST_CONTAINER),
        ),
        S::ContainerFailed => entry(
            Problem,
            (
                "Container {name} stopped with an error (exit code {code})",
                "Контейнер {name} остановился с ошибкой (код выхода {code})",
            ),
            (
                "Its main process reported a failure; its logs usually say why (`docker logs {name}`).",
                "Главный процесс сообщил об ошибке; причину обычно видно в логах (`docker logs {name}`).",
            ),
            Some(labs::FIRST_CONTAINER),
        ),
        S::CommandNotExecutable => entry(
            Problem,
            (
                "Container {name} could not run its command (exit code 126)",
                "Контейнер {name} не смог выполнить свою команду (код выхода 126)",
            ),
            (
                "The command exists but cannot be executed: it lacks the executable permission (chmod +x in the Dockerfile), is a directory, or is built for another processor architecture.",
                "Команда существует, но её нельзя выполнить: у файла нет права на исполнение (chmod +x в Dockerfile), это каталог или программа собрана для другой архитектуры процессора.",
            ),
            Some(labs::DOCKERFILE_DONE_RIGHT),
        ),
        S::CommandNotFound => entry(
            Problem,
            (
                "Container {name} stopped: its command was not found (exit code 127)",
                "Контейнер {name} остановился: команда не найдена (код выхода 127)",
            ),
            (
                "The image has no program by that name on its PATH: check the spelling of the command, or install the program in the image.",
                "В образе нет программы с таким именем в PATH: проверьте написание команды или установите программу в образ.",
            ),
            Some(labs::FIRST_CONTAINER),
        ),
        S::OutOfMemory => entry(
            Problem,
            ("Container {name} ran out of memory and was killed", "Контейнеру {name} не хватило памяти, и его убили"),
            (
                "It used more memory than it may ({limit}); the kernel killed it (exit code 137). Give it more (`--memory`), or make it use less.",
                "Он занял больше памяти, чем ему разрешено ({limit}); ядро убило его (код выхода 137). Дайте ему больше памяти (`--memory`) или уменьшите его потребление.",
            ),
            Some(labs::SECURITY_BASICS),
        ),
        S::StopTimeoutKilled => entry(
            Warning,
            (
                "Container {name} did not stop in time and was killed (exit code 137)",
                "Контейнер {name} не остановился вовремя, и его убили (код выхода 137)",
            ),
            (
                "docker stop sent SIGTERM, waited, then sent SIGKILL. The program ignores SIGTERM: often because the shell form of CMD runs it under /bin/sh, which does not pass the signal on; use the JSON form.",
                "docker stop отправил SIGTERM, подождал и отправил SIGKILL. Программа не реагирует на SIGTERM: часто потому, что shell-форма CMD запускает её через /bin/sh, который не передаёт сигнал; используйте JSON-форму.",
            ),
            Some(labs::DOCKERFILE_DONE_RIGHT),
        ),
        S::Killed => entry(
            Warning,
            ("Container {name} was killed (SIGKILL, exit code 137)", "Контейнер {name} убит (SIGKILL, код выхода 137)"),
            (
                "Something ended it at once: `docker kill`, or the system when memory ran out. It had no chance to clean up.",
                "Что-то завершило его мгновенно: `docker kill` или система, когда кончилась память. Убрать за собой он не успел.",
            ),
            Some(labs::FIRST_CONTAINER),
        ),
        S::StoppedBySignal => entry(
            Info,
            (
                "Container {name} stopped on {signal} (exit code {code})",
                "Контейнер {name} остановлен сигналом {signal} (код выхода {code})",
            ),
            (
                "A signal ended its main process: SIGTERM is what docker stop sends, so this is usually a normal stop.",
                "Сигнал завершил главный процесс: SIGTERM отправляет docker stop, так что обычно это штатная остановка.",
            ),
            Some(labs::FIRST_CONTAINER),
        ),
        S::StartFailed => entry(
            Problem,
            ("Container {name} could not start", "Контейнер {name} не смог запуститься"),
            (
                "The engine could not start it; its error below says why.",
                "Движок не смог его запустить; причина — в сообщении ниже.",
            ),
            Some(labs::FIRST_CONTAINER),
        ),
        S::PortNotPublished => entry(
            Problem,
            ("Container {name}: port {ports} is not published", "Контейнер {name}: порт {ports} не опубликован"),
            (
                "The host port is already in use by another container or program, so nothing on this computer reaches the container there; stop what uses it or publish on another port (`-p OTHER:PORT`).",
                "Порт хоста уже занят другим контейнером или программой, и с этого компьютера туда до контейнера не достучаться; остановите того, кто его занимает, или опубликуйте на другом порту (`-p ДРУГОЙ:ПОРТ`).",
            ),
            Some(labs::PUBLISHING_PORTS),
        ),
        S::HealthStarting => entry(
            Info,
            ("Container {name}: health check starting", "Контейнер {name}: проверка здоровья начинается"),
            (
                "The image's HEALTHCHECK runs now; the container counts as healthy once it passes.",
                "HEALTHCHECK образа начал работать; контейнер станет здоровым (healthy), когда проверка пройдёт.",
            ),
            Some(labs::DOCKERFILE_DONE_RIGHT),
        ),
        S::Healthy => entry(
            Good,
            ("Container {name} is healthy", "Контейнер {name} здоров (healthy)"),
            ("Its health check passes: it does its job.", "Его проверка здоровья проходит: он выполняет свою работу."),
            Some(labs::DOCKERFILE_DONE_RIGHT),
        ),
        S::Unhealthy => entry(
            Problem,
            ("Container {name} is unhealthy", "Контейнер {name} нездоров (unhealthy)"),
            (
                "Its health check failed {streak} times in a row: it runs, but does not answer as it should. The check's output below says what it saw.",
                "Его проверка здоровья не прошла {streak} раз подряд: контейнер работает, но отвечает не так, как должен. Что увидела проверка — ниже.",
            ),
            Some(labs::DOCKERFILE_DONE_RIGHT),
        ),
        S::ContainerAttached => entry(
            Info,
            ("A terminal is attached to container {name}", "К контейнеру {name} подключён терминал"),
            (
                "What the container prints shows up there, and what is typed goes to it (docker run without -d, or docker attach).",
                "Вывод контейнера появляется в этом терминале, а набранное уходит в контейнер (docker run без -d или docker attach).",
            ),
            Some(labs::FIRST_CONTAINER),
        ),
        S::SignalSent => entry(
            Info,
            ("Container {name} was sent {signal}", "Контейнеру {name} отправлен сигнал {signal}"),
            (
                "SIGTERM asks the program to stop cleanly; SIGKILL ends it at once.",
                "SIGTERM просит программу аккуратно завершиться; SIGKILL завершает её сразу.",
            ),
            Some(labs::FIRST_CONTAINER),
        ),
        S::StopRequested => entry(
            Info,
            ("Container {name} was stopped", "Контейнер {name} остановлен"),
            (
                "It stays on the engine with its files until it is removed; `docker start` runs it again.",
                "Он остаётся в движке вместе со своими файлами, пока его не удалят; `docker start` снова запустит его.",
            ),
            Some(labs::FIRST_CONTAINER),
        ),
        S::ContainerRemoved => entry(
            Info,
            ("Container {name} was removed", "Контейнер {name} удалён"),
            (
                "Its writable layer is gone; named volumes it used are kept.",
                "Его записываемый слой удалён; именованные тома, которые он использовал, сохраняются.",
            ),
            Some(labs::VOLUMES),
        ),
        S::ContainerPaused => entry(
            Info,
            ("Container {name} was paused", "Контейнер {name} приостановлен"),
            ("Its processes are frozen until it is unpaused.", "Его процессы заморожены до возобновления."),
            None,
        ),
        S::ContainerResumed => entry(
            Good,
            ("Container {name} was resumed", "Работа контейнера {name} возобновлена"),
            ("Its processes run again.", "Его процессы снова работают."),
            None,
        ),
        S::ContainerRestarted => entry(
            Info,
            ("Container {name} restarted", "Контейнер {name} перезапущен"),
            (
                "Its main process was started again, by a restart or by its restart policy.",
                "Его главный процесс запущен заново: командой перезапуска или по политике перезапуска.",
            ),
            Some(labs::FIRST_CONTAINER),
        ),
        S::ContainerRenamed => entry(
            Info,
            ("Container {old} is now called {name}", "Контейнер {old} теперь называется {name}"),
            ("Commands that used the old name need the new one.", "Командам, где было старое имя, нужно новое."),
            None,
        ),
        S::ExecStarted => entry(
            Info,
            ("A command runs in container {name}: {command}", "В контейнере {name} выполняется команда: {command}"),
            (
                "docker exec runs an extra process next to the main one; it does not change the image.",
                "docker exec запускает дополнительный процесс рядом с главным; образ от этого не меняется.",
            ),
            Some(labs::FIRST_CONTAINER),
        ),
        S::ExecFailed => entry(
            Warning,
            (
                "A command in container {name} failed (exit code {code})",
                "Команда в контейнере {name} завершилась с ошибкой (код выхода {code})",
            ),
            (
                "The container keeps running; only that command failed.",
                "Контейнер продолжает работать; ошибкой завершилась только эта команда.",
            ),
            Some(labs::FIRST_CONTAINER),
        ),
        S::ImagePulled => entry(
            Good,
            ("Image {image} was pulled", "Образ {image} скачан"),
            (
                "Containers can start from it now without the network.",
                "Теперь из него можно запускать контейнеры без сети.",
            ),
            Some(labs::REGISTRIES),
        ),
        S::ImagePushed => entry(
            Good,
            ("Image {image} was pushed", "Образ {image} отправлен в реестр"),
            ("Others can pull it from that registry now.", "Теперь другие могут скачать его из этого реестра."),
            Some(labs::REGISTRIES),
        ),
        S::ImageTagged => entry(
            Info,
            ("Image {image} got the name {target}", "Образ {image} получил имя {target}"),
            (
                "A tag is another name for the same image; nothing is copied.",
                "Тег — ещё одно имя того же образа; ничего не копируется.",
            ),
            Some(labs::REGISTRIES),
        ),
        S::ImageUntagged => entry(
            Info,
            ("A name of image {image} was removed", "У образа {image} удалено имя"),
            (
                "The image stays while other names or containers use it.",
                "Образ остаётся, пока его используют другие имена или контейнеры.",
            ),
            Some(labs::IMAGES_AND_LAYERS),
        ),
        S::ImageDeleted => entry(
            Info,
            ("Image {image} was deleted", "Образ {image} удалён"),
            ("Its layers that no other image shares are gone.", "Его слои, которые не нужны другим образам, удалены."),
            Some(labs::IMAGES_AND_LAYERS),
        ),
        S::ImageLoaded => entry(
            Good,
            ("Image {image} was loaded from a file", "Образ {image} загружен из файла"),
            ("It can be used as if it had been pulled.", "Им можно пользоваться так же, как скачанным."),
            Some(labs::REGISTRIES),
        ),
        S::ImageSaved => entry(
            Info,
            ("Image {image} was saved to a file", "Образ {image} сохранён в файл"),
            (
                "The file can be loaded on another engine with docker load.",
                "Этот файл можно загрузить в другой движок командой docker load.",
            ),
            Some(labs::REGISTRIES),
        ),
        S::ImageImported => entry(
            Info,
            (
                "Image {image} was imported from a file system archive",
                "Образ {image} импортирован из архива файловой системы",
            ),
            ("It has one layer and no build history.", "У него один слой и нет истории сборки."),
            Some(labs::IMAGES_AND_LAYERS),
        ),
        S::VolumeCreated => entry(
            Info,
            ("Volume {volume} was created", "Том {volume} создан"),
            (
                "Data written there outlives any container that uses it.",
                "Данные в нём переживут любой контейнер, который его использует.",
            ),
            Some(labs::VOLUMES),
        ),
        S::VolumeRemoved => entry(
            Warning,
            ("Volume {volume} was removed", "Том {volume} удалён"),
            ("The data it held is gone.", "Данные, которые в нём были, удалены."),
            Some(labs::VOLUMES),
        ),
        S::VolumeMounted => entry(
            Info,
            (
                "Volume {volume} is mounted at {target} in container {name}",
                "Том {volume} подключён в контейнер {name} по пути {target}",
            ),
            (
                "What the container writes there is stored in the volume, not in the container.",
                "То, что контейнер пишет туда, хранится в томе, а не в контейнере.",
            ),
            Some(labs::VOLUMES),
        ),
        S::VolumeUnmounted => entry(
            Info,
            ("Volume {volume} was unmounted from container {name}", "Том {volume} отключён от контейнера {name}"),
            ("The data stays in the volume.", "Данные остаются в томе."),
            Some(labs::VOLUMES),
        ),
        S::NetworkCreated => entry(
            Info,
            ("Network {network} was created", "Сеть {network} создана"),
            (
                "Containers on a user network reach each other by name.",
                "Контейнеры в пользовательской сети находят друг друга по имени.",
            ),
            Some(labs::NETWORKS),
        ),
        S::NetworkRemoved => {
            entry(Info, ("Network {network} was removed", "Сеть {network} удалена"), ("", ""), Some(labs::NETWORKS))
        }
        S::NetworkConnected => entry(
            Info,
            ("Container {name} joined network {network}", "Контейнер {name} подключён к сети {network}"),
            (
                "It can reach the other containers on that network by name.",
                "Теперь он может обращаться к другим контейнерам этой сети по имени.",
            ),
            Some(labs::NETWORKS),
        ),
        S::NetworkDisconnected => entry(
            Info,
            ("Container {name} left network {network}", "Контейнер {name} отключён от сети {network}"),
            ("", ""),
            Some(labs::NETWORKS),
        ),
        S::EngineReloaded => {
            entry(Info, ("The engine reloaded its configuration", "Движок перечитал свою конфигурацию"), ("", ""), None)
        }
        S::Other => entry(Info, ("{description}", "{description}"), ("", ""), None),
    }
}

/// `SIGTERM` for 15 or "15" or "SIGTERM"; `signal N` for the rest.
fn signal_name(signal: &str) -> String {
    let number = signal.trim().parse::<i64>().ok();
    let name = match number {
        Some(1) => "SIGHUP",
        Some(2) => "SIGINT",
        Some(3) => "SIGQUIT",
        Some(4) => "SIGILL",
        Some(6) => "SIGABRT",
        Some(7) => "SIGBUS",
        Some(8) => "SIGFPE",
        Some(9) => "SIGKILL",
        Some(10) => "SIGUSR1",
        Some(11) => "SIGSEGV",
        Some(12) => "SIGUSR2",
        Some(13) => "SIGPIPE",
        Some(14) => "SIGALRM",
        Some(15) => "SIGTERM",
        Some(n) => return format!("signal {n}"),
        None if signal.starts_with("SIG") => return signal.to_string(),
        None => return format!("SIG{signal}"),
    };
    name.to_string()
}

/// The host port an engine error says is taken ("Bind for 0.0.0.0:8080 failed: port is already
/// allocated", "listen tcp4 0.0.0.0:8080: bind: address already in use").
fn port_in_use(error: &str) -> Option<String> {
    let lower = error.to_ascii_lowercase();
    if !lower.contains("port is already allocated") && !lower.contains("address already in use") {
        return None;
    }
    error.match_indices(':').find_map(|(at, _)| {
        let digits: String = error[at + 1..].chars().take_while(char::is_ascii_digit).collect();
        let before = error[..at].chars().next_back();
        (!digits.is_empty() && before.is_some_and(|c| c.is_ascii_digit() || c == ']')).then_some(digits)
    })
}

fn mebibytes(bytes: i64) -> String {
    format!("{} MiB", bytes / (1 << 20))
}

/// Why a container's main process ended (or never started), from its exit code, the engine's
/// error and what happened just before.
fn exit_situation(
    code: Option<i64>,
    context: &EventContext,
    lang: Lang,
    args: &mut Vec<(&'static str, String)>,
    detail: &mut Option<String>,
    exit_code: &mut Option<i64>,
) -> Situation {
    use Situation as S;
    let facts = context.facts.as_ref();
    *exit_code = code;
    args.push(("code", code.map_or_else(|| "?".into(), |c| c.to_string())));
    let error = facts.map(|f| f.error.clone()).unwrap_or_default();
    *detail = (!error.is_empty()).then(|| error.clone());
    let stop_asked = context.signals.iter().any(|s| signal_name(s) == "SIGTERM");
    if context.oom_seen || facts.is_some_and(|f| f.oom_killed) {
        args.push(("limit", memory_limit(facts, lang)));
        return S::OutOfMemory;
    }
    if let Some(port) = port_in_use(&error) {
        args.push(("ports", port));
        return S::PortNotPublished;
    }
    match code {
        Some(0) => S::ContainerFinished,
        Some(126) => S::CommandNotExecutable,
        Some(127) => {
            if detail.is_none() {
                *detail = facts.map(|f| f.command.join(" ")).filter(|c| !c.is_empty());
            }
            S::CommandNotFound
        }
        Some(137) if stop_asked => S::StopTimeoutKilled,
        Some(137) => S::Killed,
        Some(c @ 129..=192) => {
            args.push(("signal", signal_name(&(c - 128).to_string())));
            S::StoppedBySignal
        }
        _ if !error.is_empty() => S::StartFailed,
        _ => S::ContainerFailed,
    }
}

/// The container's memory limit in words.
fn memory_limit(facts: Option<&super::ContainerFacts>, lang: Lang) -> String {
    facts
        .map(|f| f.memory_limit)
        .filter(|l| *l > 0)
        .map_or_else(|| lang.pick("the memory it had", "память, что у него была").to_string(), mebibytes)
}

pub(super) fn explain(event: &Event, context: &EventContext, lang: Lang) -> Explanation {
    let facts = context.facts.as_ref();
    let attr = |key: &str| event.attributes.get(key).cloned().unwrap_or_default();
    let short: String = event.id.trim_start_matches("sha256:").chars().take(12).collect();
    let name = event.name.clone().or_else(|| facts.map(|f| f.name.clone())).unwrap_or_else(|| short.clone());
    let mut args: Vec<(&str, String)> = vec![("name", name.clone()), ("image", attr("image"))];
    let mut detail: Option<String> = None;
    let mut exit_code = None;
    use Situation as S;
    let situation = match (event.resource.as_str(), event.action.as_str()) {
        ("container", "create") => S::ContainerCreated,
        ("container", "start") => match facts.filter(|f| !f.unpublished_ports.is_empty()) {
            Some(f) => {
                args.push(("ports", f.unpublished_ports.join(", ")));
                S::PortNotPublished
            }
            None => S::ContainerStarted,
        },
        ("container", "die") => {
            let code = attr("exitCode").parse::<i64>().ok().or_else(|| facts.and_then(|f| f.exit_code));
            exit_situation(code, context, lang, &mut args, &mut detail, &mut exit_code)
        }
        // A start that failed leaves no `die`: only its network is disconnected again.
        ("network", "disconnect") if facts.is_some_and(|f| !f.running && !f.error.is_empty()) => {
            let (container, code) = facts.map(|f| (f.name.clone(), f.exit_code)).unwrap_or_default();
            args.retain(|(k, _)| *k != "name");
            args.push(("name", container));
            exit_situation(code, context, lang, &mut args, &mut detail, &mut exit_code)
        }
        ("container", "oom") => {
            args.push(("limit", memory_limit(facts, lang)));
            S::OutOfMemory
        }
        ("container", "kill") => {
            args.push(("signal", signal_name(&attr("signal"))));
            S::SignalSent
        }
        ("container", "stop") => S::StopRequested,
        ("container", "attach") => S::ContainerAttached,
        ("container", "destroy") => S::ContainerRemoved,
        ("container", "pause") => S::ContainerPaused,
        ("container", "unpause") => S::ContainerResumed,
        ("container", "restart") => S::ContainerRestarted,
        ("container", "rename") => {
            args.push(("old", attr("oldName").trim_start_matches('/').to_string()));
            S::ContainerRenamed
        }
        ("container", action) if action.starts_with("health_status") => {
            let status = action.trim_start_matches("health_status").trim_start_matches(':').trim();
            let health = facts.and_then(|f| f.health.as_ref());
            match status {
                "healthy" => S::Healthy,
                "unhealthy" => {
                    args.push(("streak", health.map_or(1, |h| h.failing_streak.max(1)).to_string()));
                    detail = health.map(|h| h.last_output.clone()).filter(|o| !o.is_empty());
                    S::Unhealthy
                }
                _ => S::HealthStarting,
            }
        }
        ("container", action) if action.starts_with("exec_start") => {
            args.push(("command", action.trim_start_matches("exec_start:").trim().to_string()));
            S::ExecStarted
        }
        ("container", "exec_die") if attr("exitCode") != "0" && !attr("exitCode").is_empty() => {
            exit_code = attr("exitCode").parse().ok();
            args.push(("code", attr("exitCode")));
            S::ExecFailed
        }
        ("image", action) => {
            let image = match event.name.clone().filter(|n| !n.is_empty()) {
                Some(n) => n,
                None if event.id.starts_with("sha256:") => short.clone(),
                None => event.id.clone(),
            };
            args.retain(|(k, _)| *k != "image");
            args.push(("image", image));
            args.push(("target", attr("name")));
            match action {
                "pull" => S::ImagePulled,
                "push" => S::ImagePushed,
                "tag" => S::ImageTagged,
                "untag" => S::ImageUntagged,
                "delete" => S::ImageDeleted,
                "load" => S::ImageLoaded,
                "save" => S::ImageSaved,
                "import" => S::ImageImported,
                _ => S::Other,
            }
        }
        ("volume", action) => {
            args.push(("volume", event.id.clone()));
            args.push(("target", attr("destination")));
            let container =
                context.container_name.clone().unwrap_or_else(|| attr("container").chars().take(12).collect());
            args.retain(|(k, _)| *k != "name");
            args.push(("name", container));
            match action {
                "create" => S::VolumeCreated,
                "destroy" => S::VolumeRemoved,
                "mount" => S::VolumeMounted,
                "unmount" => S::VolumeUnmounted,
                _ => S::Other,
            }
        }
        ("network", action) => {
            args.push(("network", name.clone()));
            let container =
                context.container_name.clone().unwrap_or_else(|| attr("container").chars().take(12).collect());
            args.retain(|(k, _)| *k != "name");
            args.push(("name", container));
            match action {
                "create" => S::NetworkCreated,
                "destroy" => S::NetworkRemoved,
                "connect" => S::NetworkConnected,
                "disconnect" => S::NetworkDisconnected,
                _ => S::Other,
            }
        }
        ("daemon", "reload") => S::EngineReloaded,
        _ => S::Other,
    };
    args.push(("description", event.describe()));
    let entry = catalog(situation);
    let pick = |pair: (&'static str, &'static str)| lang.pick(pair.0, pair.1);
    Explanation {
        situation,
        tone: entry.tone,
        headline: fill(pick(entry.headline), &args),
        meaning: fill(pick(entry.meaning), &args),
        detail,
        exit_code,
        lab: entry.lab.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::explain::ContainerFacts;

    fn event(resource: &str, action: &str, attrs: &[(&str, &str)]) -> Event {
        let attributes: BTreeMap<String, String> = attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Event {
            resource: resource.into(),
            action: action.into(),
            id: "0123456789abcdef".into(),
            name: attributes.get("name").cloned(),
            attributes,
            time: 0,
            time_nano: 0,
        }
    }

    fn die(code: &str) -> Event {
        event("container", "die", &[("name", "web"), ("exitCode", code), ("image", "busybox")])
    }

    #[test]
    fn exit_codes() {
        let plain = EventContext::default();
        let cases = [
            ("0", S::ContainerFinished),
            ("1", S::ContainerFailed),
            ("126", S::CommandNotExecutable),
            ("127", S::CommandNotFound),
            ("137", S::Killed),
            ("143", S::StoppedBySignal),
            ("139", S::StoppedBySignal),
        ];
        use Situation as S;
        for (code, situation) in cases {
            let e = explain(&die(code), &plain, Lang::En);
            assert_eq!(e.situation, situation, "{code}");
            assert_eq!(e.exit_code, code.parse().ok());
        }
        assert!(explain(&die("143"), &plain, Lang::En).headline.contains("SIGTERM"));
        assert!(explain(&die("139"), &plain, Lang::Ru).headline.contains("SIGSEGV"));
        let stopped = EventContext { signals: vec!["15".into(), "9".into()], ..EventContext::default() };
        assert_eq!(explain(&die("137"), &stopped, Lang::En).situation, S::StopTimeoutKilled);
        let oom = EventContext {
            facts: Some(ContainerFacts { oom_killed: true, memory_limit: 8 << 20, ..ContainerFacts::default() }),
            ..EventContext::default()
        };
        let e = explain(&die("137"), &oom, Lang::En);
        assert_eq!(e.situation, S::OutOfMemory);
        assert!(e.meaning.contains("8 MiB"), "{}", e.meaning);
    }

    #[test]
    fn port_conflicts_and_health() {
        let facts = ContainerFacts {
            error: "driver failed programming external connectivity on endpoint web: Bind for 0.0.0.0:8080 failed: port is already allocated".into(),
            ..ContainerFacts::default()
        };
        let e = explain(&die("128"), &EventContext { facts: Some(facts), ..EventContext::default() }, Lang::En);
        assert_eq!(e.situation, Situation::PortNotPublished);
        assert!(e.headline.contains("8080"), "{}", e.headline);
        assert_eq!(e.lab.as_deref(), Some(labs::PUBLISHING_PORTS));
        let sick = event("container", "health_status: unhealthy", &[("name", "web")]);
        let e = explain(&sick, &EventContext::default(), Lang::Ru);
        assert_eq!(e.situation, Situation::Unhealthy);
        assert!(e.headline.contains("нездоров"));
        assert_eq!(port_in_use("listen tcp4 0.0.0.0:18080: bind: address already in use").as_deref(), Some("18080"));
    }

    #[test]
    fn every_situation_speaks_both_languages() {
        let all = [
            Situation::ContainerCreated,
            Situation::ContainerStarted,
            Situation::ContainerFinished,
            Situation::ContainerFailed,
            Situation::CommandNotExecutable,
            Situation::CommandNotFound,
            Situation::OutOfMemory,
            Situation::StopTimeoutKilled,
            Situation::Killed,
            Situation::StoppedBySignal,
            Situation::StartFailed,
            Situation::PortNotPublished,
            Situation::HealthStarting,
            Situation::Healthy,
            Situation::Unhealthy,
            Situation::SignalSent,
            Situation::ContainerAttached,
            Situation::StopRequested,
            Situation::ContainerRemoved,
            Situation::ContainerPaused,
            Situation::ContainerResumed,
            Situation::ContainerRestarted,
            Situation::ContainerRenamed,
            Situation::ExecStarted,
            Situation::ExecFailed,
            Situation::ImagePulled,
            Situation::ImagePushed,
            Situation::ImageTagged,
            Situation::ImageUntagged,
            Situation::ImageDeleted,
            Situation::ImageLoaded,
            Situation::ImageSaved,
            Situation::ImageImported,
            Situation::VolumeCreated,
            Situation::VolumeRemoved,
            Situation::VolumeMounted,
            Situation::VolumeUnmounted,
            Situation::NetworkCreated,
            Situation::NetworkRemoved,
            Situation::NetworkConnected,
            Situation::NetworkDisconnected,
            Situation::EngineReloaded,
            Situation::Other,
        ];
        for situation in all {
            let entry = catalog(situation);
            for (en, ru) in [entry.headline, entry.meaning] {
                assert_eq!(crate::lang::placeholders(en), crate::lang::placeholders(ru), "{situation:?}");
                assert_eq!(en.is_empty(), ru.is_empty(), "{situation:?}");
                if !en.starts_with('{') && !en.is_empty() {
                    assert_ne!(en, ru, "{situation:?} is not translated");
                }
            }
            if let Some(lab) = entry.lab {
                assert!(labs::ALL.contains(&lab));
            }
        }
    }
}
