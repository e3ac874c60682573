//! The declarative check kinds of format 1: what each one means, its fields, the label a learner
//! sees next to its tick (English and Russian), and which engine events can change its result.

use serde::{Deserialize, Serialize};

use crate::placeholders::{self, Values};
use crate::size::Size;
use crate::text::{Lang, Text};

/// Which container a container check is about: by name, or any container made from an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSelector {
    /// The container's name.
    pub container: Option<String>,
    /// Any container created from this image.
    pub image: Option<String>,
}

/// `container_exited`: the container ran and stopped, optionally with this exit code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerExited {
    pub container: Option<String>,
    pub image: Option<String>,
    pub exit_code: Option<i64>,
}

/// `container_settings`: every setting given must hold for the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSettings {
    pub container: String,
    /// `--read-only`
    pub read_only_rootfs: Option<bool>,
    /// `--user` other than root (or the image's non-root `USER`).
    pub user_not_root: Option<bool>,
    /// `--cap-drop` of each of these (e.g. `ALL`, `NET_RAW`).
    #[serde(default)]
    pub cap_drop: Vec<String>,
    /// `--memory` at most this (and set).
    pub memory_max: Option<Size>,
    /// `--pids-limit` at most this (and set).
    pub pids_max: Option<i64>,
    /// `--security-opt no-new-privileges`
    pub no_new_privileges: Option<bool>,
}

/// An image check with only the image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageCheck {
    pub image: String,
}

/// `image_file_absent`: the image's file system has nothing at `path` (e.g. a secret kept out by
/// `.dockerignore`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageFileAbsent {
    pub image: String,
    /// Absolute path in the image.
    pub path: String,
}

/// `image_shares_layers`: the image's first `min` layers are the same as `with`'s (built from the
/// cache, or on the same base).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSharesLayers {
    pub image: String,
    pub with: String,
    pub min: u32,
}

/// `image_history`: one of the image's layers was made by an instruction containing this text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageHistory {
    pub image: String,
    pub instruction: String,
}

/// `image_layers`: the image has at most `max` layers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageLayers {
    pub image: String,
    pub max: u32,
}

/// `image_size`: the image is at most `max`, and/or at least `by` smaller than `smaller_than`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSize {
    pub image: String,
    pub max: Option<Size>,
    /// Another image this one must be smaller than (e.g. the single-stage build).
    pub smaller_than: Option<String>,
    /// By at least this much (default: any amount).
    pub by: Option<Size>,
}

/// `port_published`: the container publishes `container_port` on the declared host port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortPublished {
    pub container: String,
    pub container_port: u16,
    /// The name of a port in the manifest's `[ports]`.
    pub port: String,
    /// `tcp` (default) or `udp`.
    pub protocol: Option<String>,
    /// Only on this host address, e.g. `127.0.0.1` (`-p 127.0.0.1:8080:80`).
    pub host_ip: Option<String>,
}

/// `http`: a GET of `path` on the declared host port answers (with `status`, with `contains`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    /// The name of a port in the manifest's `[ports]`.
    pub port: String,
    /// Default `/`.
    pub path: Option<String>,
    /// Any 2xx or 3xx when not given.
    pub status: Option<u16>,
    pub contains: Option<String>,
}

/// A volume check with only the volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeCheck {
    pub volume: String,
}

/// `volume_mounted`: the container mounts the volume (at `target`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeMounted {
    pub volume: String,
    pub container: String,
    pub target: Option<String>,
}

/// `volume_file`: the volume holds `path` (relative to its root), containing `contains`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeFile {
    pub volume: String,
    pub path: String,
    pub contains: Option<String>,
}

/// `bind_mount`: the container mounts the host folder `source` (relative to the lab's work folder,
/// or absolute) at `target`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindMount {
    pub container: String,
    pub source: String,
    pub target: Option<String>,
}

/// A network check with only the network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkCheck {
    pub network: String,
}

/// `network_attached`: each container is attached to the network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkAttached {
    pub network: String,
    pub containers: Vec<String>,
}

/// `resolves`: the engine's DNS lets `container` reach `name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resolves {
    pub container: String,
    pub name: String,
}

/// `logs_contain`: the container's output contains `text`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsContain {
    pub container: String,
    pub text: String,
}

/// `compose_up`: the compose project has a running container for each service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeUp {
    pub project: String,
    pub services: Vec<String>,
}

/// `file_exists`: a file in the lab's work folder exists (and is at least `min_size`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileExists {
    pub file: String,
    pub min_size: Option<Size>,
}

/// `file_contains`: a file in the lab's work folder contains `text`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileContains {
    pub file: String,
    pub text: String,
}

/// `dockerfile_lint`: none of these lint rules (hadolint's `DL…` ids, BuildKit's check names,
/// Gantry's advice: `gantry lint` lists them) fires on the Dockerfile in the work folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerfileLint {
    /// Default `Dockerfile`.
    pub file: Option<String>,
    pub rules: Vec<String>,
}

/// `event_seen`: since the lab started the engine reported this event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSeen {
    /// `container`, `image`, `volume`, `network`.
    pub resource: String,
    /// e.g. `oom`, `die`, `push`, `health_status: unhealthy` (a prefix of the engine's action).
    pub action: String,
    /// The object's name, e.g. the container's.
    pub name: Option<String>,
}

/// One declarative check, as written in a manifest (`kind = "..."` plus the kind's fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckSpec {
    ContainerExists(ContainerSelector),
    ContainerRunning(ContainerSelector),
    ContainerExited(ContainerExited),
    ContainerAbsent(ContainerSelector),
    ContainerSettings(ContainerSettings),
    ImageExists(ImageCheck),
    ImageAbsent(ImageCheck),
    ImageHistory(ImageHistory),
    ImageLayers(ImageLayers),
    ImageSharesLayers(ImageSharesLayers),
    ImageSize(ImageSize),
    ImageNotRoot(ImageCheck),
    ImageHealthcheck(ImageCheck),
    ImageFileAbsent(ImageFileAbsent),
    PortPublished(PortPublished),
    Http(HttpCheck),
    VolumeExists(VolumeCheck),
    VolumeAbsent(VolumeCheck),
    VolumeMounted(VolumeMounted),
    VolumeFile(VolumeFile),
    BindMount(BindMount),
    NetworkExists(NetworkCheck),
    NetworkAttached(NetworkAttached),
    Resolves(Resolves),
    LogsContain(LogsContain),
    ComposeUp(ComposeUp),
    FileExists(FileExists),
    FileContains(FileContains),
    DockerfileLint(DockerfileLint),
    EventSeen(EventSeen),
}

/// Every check kind of format 1, as written after `kind =`.
pub const KINDS: [&str; 30] = [
    "container_exists",
    "container_running",
    "container_exited",
    "container_absent",
    "container_settings",
    "image_exists",
    "image_absent",
    "image_history",
    "image_layers",
    "image_shares_layers",
    "image_size",
    "image_not_root",
    "image_healthcheck",
    "image_file_absent",
    "port_published",
    "http",
    "volume_exists",
    "volume_absent",
    "volume_mounted",
    "volume_file",
    "bind_mount",
    "network_exists",
    "network_attached",
    "resolves",
    "logs_contain",
    "compose_up",
    "file_exists",
    "file_contains",
    "dockerfile_lint",
    "event_seen",
];

/// Which engine events can change a check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Events about these resources (`container`, `image`, `volume`, `network`).
    Resources(&'static [&'static str]),
    /// Any event.
    Any,
}

impl Trigger {
    /// True when an event about `resource` can change the result.
    pub fn fires_on(self, resource: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Resources(list) => list.contains(&resource),
        }
    }
}

const CONTAINER: &[&str] = &["container"];
const IMAGE: &[&str] = &["image"];
const VOLUME: &[&str] = &["volume"];
const NETWORK: &[&str] = &["network"];
const CONTAINER_VOLUME: &[&str] = &["container", "volume"];
const CONTAINER_NETWORK: &[&str] = &["container", "network"];

fn code(s: &str) -> String {
    format!("`{s}`")
}

fn codes(list: &[String]) -> String {
    list.iter().map(|s| code(s)).collect::<Vec<_>>().join(", ")
}

fn en_ru(lang: Lang, en: String, ru: String) -> String {
    match lang {
        Lang::En => en,
        Lang::Ru => ru,
    }
}

impl ContainerSelector {
    fn describe(&self, lang: Lang, en_named: &str, en_image: &str, ru_named: &str, ru_image: &str) -> String {
        match (&self.container, &self.image, lang) {
            (Some(name), _, Lang::En) => en_named.replace("{}", &code(name)),
            (Some(name), _, Lang::Ru) => ru_named.replace("{}", &code(name)),
            (None, Some(image), Lang::En) => en_image.replace("{}", &code(image)),
            (None, Some(image), Lang::Ru) => ru_image.replace("{}", &code(image)),
            (None, None, _) => String::new(),
        }
    }
}

impl CheckSpec {
    /// The kind as written after `kind =`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ContainerExists(_) => "container_exists",
            Self::ContainerRunning(_) => "container_running",
            Self::ContainerExited(_) => "container_exited",
            Self::ContainerAbsent(_) => "container_absent",
            Self::ContainerSettings(_) => "container_settings",
            Self::ImageExists(_) => "image_exists",
            Self::ImageAbsent(_) => "image_absent",
            Self::ImageHistory(_) => "image_history",
            Self::ImageLayers(_) => "image_layers",
            Self::ImageSharesLayers(_) => "image_shares_layers",
            Self::ImageSize(_) => "image_size",
            Self::ImageNotRoot(_) => "image_not_root",
            Self::ImageHealthcheck(_) => "image_healthcheck",
            Self::ImageFileAbsent(_) => "image_file_absent",
            Self::PortPublished(_) => "port_published",
            Self::Http(_) => "http",
            Self::VolumeExists(_) => "volume_exists",
            Self::VolumeAbsent(_) => "volume_absent",
            Self::VolumeMounted(_) => "volume_mounted",
            Self::VolumeFile(_) => "volume_file",
            Self::BindMount(_) => "bind_mount",
            Self::NetworkExists(_) => "network_exists",
            Self::NetworkAttached(_) => "network_attached",
            Self::Resolves(_) => "resolves",
            Self::LogsContain(_) => "logs_contain",
            Self::ComposeUp(_) => "compose_up",
            Self::FileExists(_) => "file_exists",
            Self::FileContains(_) => "file_contains",
            Self::DockerfileLint(_) => "dockerfile_lint",
            Self::EventSeen(_) => "event_seen",
        }
    }

    /// Which engine events can change this check's result.
    pub fn trigger(&self) -> Trigger {
        match self {
            Self::ContainerExists(_)
            | Self::ContainerRunning(_)
            | Self::ContainerExited(_)
            | Self::ContainerAbsent(_)
            | Self::ContainerSettings(_)
            | Self::PortPublished(_)
            | Self::BindMount(_)
            | Self::LogsContain(_)
            | Self::ComposeUp(_) => Trigger::Resources(CONTAINER),
            Self::ImageExists(_)
            | Self::ImageAbsent(_)
            | Self::ImageHistory(_)
            | Self::ImageLayers(_)
            | Self::ImageSharesLayers(_)
            | Self::ImageSize(_)
            | Self::ImageNotRoot(_)
            | Self::ImageHealthcheck(_)
            | Self::ImageFileAbsent(_) => Trigger::Resources(IMAGE),
            Self::VolumeExists(_) | Self::VolumeAbsent(_) => Trigger::Resources(VOLUME),
            Self::VolumeMounted(_) | Self::VolumeFile(_) => Trigger::Resources(CONTAINER_VOLUME),
            Self::NetworkExists(_) => Trigger::Resources(NETWORK),
            Self::NetworkAttached(_) | Self::Resolves(_) | Self::Http(_) => Trigger::Resources(CONTAINER_NETWORK),
            Self::FileExists(_) | Self::FileContains(_) | Self::DockerfileLint(_) | Self::EventSeen(_) => Trigger::Any,
        }
    }

    /// Files in the work folder whose changes can change the result (they are not engine objects).
    pub fn watched_files(&self) -> Vec<&str> {
        match self {
            Self::FileExists(c) => vec![&c.file],
            Self::FileContains(c) => vec![&c.file],
            // The linter reads the build context's .dockerignore too.
            Self::DockerfileLint(c) => vec![c.file.as_deref().unwrap_or("Dockerfile"), ".dockerignore"],
            _ => Vec::new(),
        }
    }

    /// What a learner reads next to the tick.
    pub fn label(&self, lang: Lang, values: &Values) -> String {
        let l = lang;
        match self {
            Self::ContainerExists(s) => s.describe(
                l,
                "Container {} exists",
                "A container from image {} exists",
                "Контейнер {} существует",
                "Есть контейнер из образа {}",
            ),
            Self::ContainerRunning(s) => s.describe(
                l,
                "Container {} is running",
                "A container from image {} is running",
                "Контейнер {} запущен",
                "Запущен контейнер из образа {}",
            ),
            Self::ContainerExited(c) => {
                let sel = ContainerSelector { container: c.container.clone(), image: c.image.clone() };
                let base = sel.describe(
                    l,
                    "Container {} has exited",
                    "A container from image {} has exited",
                    "Контейнер {} завершился",
                    "Контейнер из образа {} завершился",
                );
                match c.exit_code {
                    Some(code) => en_ru(l, format!("{base} with code {code}"), format!("{base} с кодом {code}")),
                    None => base,
                }
            }
            Self::ContainerAbsent(s) => s.describe(
                l,
                "Container {} is removed",
                "No container from image {} is left",
                "Контейнер {} удалён",
                "Не осталось контейнеров из образа {}",
            ),
            Self::ContainerSettings(c) => {
                let mut parts: Vec<String> = Vec::new();
                if c.read_only_rootfs == Some(true) {
                    parts.push(en_ru(l, "a read-only root filesystem".into(), "корневая ФС только для чтения".into()));
                }
                if !c.cap_drop.is_empty() {
                    parts.push(en_ru(
                        l,
                        format!("capabilities dropped: {}", codes(&c.cap_drop)),
                        format!("сброшены возможности: {}", codes(&c.cap_drop)),
                    ));
                }
                if c.user_not_root == Some(true) {
                    parts.push(en_ru(l, "a non-root user".into(), "пользователь не root".into()));
                }
                if let Some(max) = c.memory_max {
                    parts.push(en_ru(l, format!("memory limit ≤ {max}"), format!("лимит памяти ≤ {max}")));
                }
                if let Some(max) = c.pids_max {
                    parts.push(en_ru(l, format!("process limit ≤ {max}"), format!("лимит процессов ≤ {max}")));
                }
                if c.no_new_privileges == Some(true) {
                    parts.push(en_ru(l, "no new privileges".into(), "без повышения привилегий".into()));
                }
                en_ru(
                    l,
                    format!("Container {} runs with {}", code(&c.container), parts.join(", ")),
                    format!("Контейнер {} запущен так: {}", code(&c.container), parts.join(", ")),
                )
            }
            Self::ImageExists(c) => {
                en_ru(l, format!("Image {} exists", code(&c.image)), format!("Образ {} есть", code(&c.image)))
            }
            Self::ImageAbsent(c) => {
                en_ru(l, format!("Image {} is removed", code(&c.image)), format!("Образ {} удалён", code(&c.image)))
            }
            Self::ImageHistory(c) => en_ru(
                l,
                format!("Image {} has a layer made by {}", code(&c.image), code(&c.instruction)),
                format!("В истории образа {} есть слой от {}", code(&c.image), code(&c.instruction)),
            ),
            Self::ImageLayers(c) => en_ru(
                l,
                format!("Image {} has at most {} layers", code(&c.image), c.max),
                format!("В образе {} не больше {} слоёв", code(&c.image), c.max),
            ),
            Self::ImageSharesLayers(c) => en_ru(
                l,
                format!("Image {} shares its first {} layers with {}", code(&c.image), c.min, code(&c.with)),
                format!("Образ {} использует первые {} слоёв образа {}", code(&c.image), c.min, code(&c.with)),
            ),
            Self::ImageSize(c) => {
                let mut en = Vec::new();
                let mut ru = Vec::new();
                if let Some(max) = c.max {
                    en.push(format!("at most {max}"));
                    ru.push(format!("не больше {max}"));
                }
                if let Some(other) = &c.smaller_than {
                    let by = c.by.unwrap_or(Size(0));
                    if by.0 > 0 {
                        en.push(format!("at least {by} smaller than {}", code(other)));
                        ru.push(format!("хотя бы на {by} меньше {}", code(other)));
                    } else {
                        en.push(format!("smaller than {}", code(other)));
                        ru.push(format!("меньше {}", code(other)));
                    }
                }
                en_ru(
                    l,
                    format!("Image {} is {}", code(&c.image), en.join(" and ")),
                    format!("Образ {} занимает {}", code(&c.image), ru.join(" и ")),
                )
            }
            Self::ImageNotRoot(c) => en_ru(
                l,
                format!("Image {} runs as a non-root user", code(&c.image)),
                format!("Образ {} запускается не от root", code(&c.image)),
            ),
            Self::ImageHealthcheck(c) => en_ru(
                l,
                format!("Image {} has a health check", code(&c.image)),
                format!("У образа {} есть проверка здоровья (HEALTHCHECK)", code(&c.image)),
            ),
            Self::ImageFileAbsent(c) => en_ru(
                l,
                format!("Image {} has no {}", code(&c.image), code(&c.path)),
                format!("В образе {} нет {}", code(&c.image), code(&c.path)),
            ),
            Self::PortPublished(c) => {
                let host = match &c.host_ip {
                    Some(ip) => format!("{ip}:{}", port_text(values, &c.port)),
                    None => port_text(values, &c.port),
                };
                en_ru(
                    l,
                    format!("Container {} publishes port {} on host port {host}", code(&c.container), c.container_port),
                    format!(
                        "Контейнер {} публикует порт {} на порту хоста {host}",
                        code(&c.container),
                        c.container_port
                    ),
                )
            }
            Self::Http(c) => {
                let url =
                    format!("http://localhost:{}{}", port_text(values, &c.port), c.path.as_deref().unwrap_or("/"));
                let mut en = format!("{} answers", code(&url));
                let mut ru = format!("{} отвечает", code(&url));
                if let Some(status) = c.status {
                    en.push_str(&format!(" with status {status}"));
                    ru.push_str(&format!(" статусом {status}"));
                }
                if let Some(text) = &c.contains {
                    en.push_str(&format!(" with text {}", code(text)));
                    ru.push_str(&format!(" с текстом {}", code(text)));
                }
                en_ru(l, en, ru)
            }
            Self::VolumeExists(c) => {
                en_ru(l, format!("Volume {} exists", code(&c.volume)), format!("Том {} существует", code(&c.volume)))
            }
            Self::VolumeAbsent(c) => {
                en_ru(l, format!("Volume {} is removed", code(&c.volume)), format!("Том {} удалён", code(&c.volume)))
            }
            Self::VolumeMounted(c) => {
                let at = c.target.as_deref().map(code);
                en_ru(
                    l,
                    format!(
                        "Container {} mounts volume {}{}",
                        code(&c.container),
                        code(&c.volume),
                        at.as_ref().map(|t| format!(" at {t}")).unwrap_or_default()
                    ),
                    format!(
                        "Контейнер {} подключает том {}{}",
                        code(&c.container),
                        code(&c.volume),
                        at.as_ref().map(|t| format!(" в {t}")).unwrap_or_default()
                    ),
                )
            }
            Self::VolumeFile(c) => {
                let (en_text, ru_text) = match &c.contains {
                    Some(t) => (format!(" containing {}", code(t)), format!(" с текстом {}", code(t))),
                    None => (String::new(), String::new()),
                };
                en_ru(
                    l,
                    format!("Volume {} holds file {}{en_text}", code(&c.volume), code(&c.path)),
                    format!("В томе {} есть файл {}{ru_text}", code(&c.volume), code(&c.path)),
                )
            }
            Self::BindMount(c) => {
                let at = c.target.as_deref().map(code);
                en_ru(
                    l,
                    format!(
                        "Container {} mounts the host folder {}{}",
                        code(&c.container),
                        code(&c.source),
                        at.as_ref().map(|t| format!(" at {t}")).unwrap_or_default()
                    ),
                    format!(
                        "Контейнер {} подключает папку хоста {}{}",
                        code(&c.container),
                        code(&c.source),
                        at.as_ref().map(|t| format!(" в {t}")).unwrap_or_default()
                    ),
                )
            }
            Self::NetworkExists(c) => en_ru(
                l,
                format!("Network {} exists", code(&c.network)),
                format!("Сеть {} существует", code(&c.network)),
            ),
            Self::NetworkAttached(c) => en_ru(
                l,
                format!("{} attached to network {}", codes(&c.containers), code(&c.network)),
                format!("{} подключены к сети {}", codes(&c.containers), code(&c.network)),
            ),
            Self::Resolves(c) => en_ru(
                l,
                format!("Container {} reaches {} by name", code(&c.container), code(&c.name)),
                format!("Контейнер {} находит {} по имени", code(&c.container), code(&c.name)),
            ),
            Self::LogsContain(c) => en_ru(
                l,
                format!("The output of {} contains {}", code(&c.container), code(&c.text)),
                format!("В выводе {} есть {}", code(&c.container), code(&c.text)),
            ),
            Self::ComposeUp(c) => en_ru(
                l,
                format!("Compose project {} runs services {}", code(&c.project), codes(&c.services)),
                format!("Проект Compose {} запустил сервисы {}", code(&c.project), codes(&c.services)),
            ),
            Self::FileExists(c) => {
                let (en_size, ru_size) = match c.min_size {
                    Some(min) => (format!(" (at least {min})"), format!(" (не меньше {min})")),
                    None => (String::new(), String::new()),
                };
                en_ru(
                    l,
                    format!("File {} exists{en_size}", code(&c.file)),
                    format!("Файл {} есть{ru_size}", code(&c.file)),
                )
            }
            Self::FileContains(c) => en_ru(
                l,
                format!("File {} contains {}", code(&c.file), code(&c.text)),
                format!("Файл {} содержит {}", code(&c.file), code(&c.text)),
            ),
            Self::DockerfileLint(c) => {
                let file = c.file.as_deref().unwrap_or("Dockerfile");
                en_ru(
                    l,
                    format!("{} passes the lint rules {}", code(file), codes(&c.rules)),
                    format!("{} проходит правила проверки {}", code(file), codes(&c.rules)),
                )
            }
            Self::EventSeen(c) => {
                let event = code(&format!("{} {}", c.resource, c.action));
                let of = c.name.as_deref().map(code);
                en_ru(
                    l,
                    format!(
                        "The engine reported {event}{}",
                        of.as_ref().map(|n| format!(" for {n}")).unwrap_or_default()
                    ),
                    format!(
                        "Движок сообщил о событии {event}{}",
                        of.as_ref().map(|n| format!(" для {n}")).unwrap_or_default()
                    ),
                )
            }
        }
    }

    /// Problems with the fields' values (the TOML types were already checked): a missing
    /// selector, an undeclared port, a path that leaves the work folder, an empty list.
    pub fn validate(&self, declared_ports: &[String]) -> Vec<String> {
        let mut problems = Vec::new();
        let mut need = |ok: bool, message: &str| {
            if !ok {
                problems.push(message.to_string());
            }
        };
        let port_declared = |port: &str| declared_ports.iter().any(|p| p == port);
        match self {
            Self::ContainerExists(s) | Self::ContainerRunning(s) | Self::ContainerAbsent(s) => {
                need(s.container.is_some() || s.image.is_some(), "give `container` (a name) or `image`");
                need(!(s.container.is_some() && s.image.is_some()), "give `container` or `image`, not both");
            }
            Self::ContainerExited(c) => {
                need(c.container.is_some() || c.image.is_some(), "give `container` (a name) or `image`");
                need(!(c.container.is_some() && c.image.is_some()), "give `container` or `image`, not both");
            }
            Self::ContainerSettings(c) => need(
                c.read_only_rootfs.is_some()
                    || c.user_not_root.is_some()
                    || !c.cap_drop.is_empty()
                    || c.memory_max.is_some()
                    || c.pids_max.is_some()
                    || c.no_new_privileges.is_some(),
                "name at least one setting (read_only_rootfs, user_not_root, cap_drop, memory_max, pids_max, no_new_privileges)",
            ),
            Self::PortPublished(c) => {
                need(port_declared(&c.port), "`port` must name a port declared in the manifest's [ports]");
                need(
                    c.protocol.as_deref().is_none_or(|p| ["tcp", "udp", "sctp"].contains(&p)),
                    "`protocol` is tcp, udp or sctp",
                );
                need(c.container_port != 0, "`container_port` is 1 to 65535");
                need(
                    c.host_ip.as_deref().is_none_or(|ip| ip.parse::<std::net::IpAddr>().is_ok()),
                    "`host_ip` is an IP address such as 127.0.0.1",
                );
            }
            Self::Http(c) => {
                need(port_declared(&c.port), "`port` must name a port declared in the manifest's [ports]");
                need(c.path.as_deref().is_none_or(|p| p.starts_with('/')), "`path` starts with /");
                need(c.status.is_none_or(|s| (100..600).contains(&s)), "`status` is an HTTP status (100 to 599)");
            }
            Self::VolumeFile(c) => {
                need(relative_inside(&c.path), "`path` is relative to the volume's root and stays inside it")
            }
            Self::FileContains(FileContains { file, .. }) | Self::FileExists(FileExists { file, .. }) => {
                need(relative_inside(file), "`file` is relative to the lab folder and stays inside it")
            }
            Self::ImageFileAbsent(c) => need(c.path.starts_with('/'), "`path` is an absolute path in the image"),
            Self::ImageSharesLayers(c) => need(c.min > 0, "`min` is at least 1"),
            Self::ImageSize(c) => {
                need(c.max.is_some() || c.smaller_than.is_some(), "give `max`, `smaller_than`, or both");
                need(c.by.is_none() || c.smaller_than.is_some(), "`by` goes with `smaller_than`");
            }
            Self::DockerfileLint(c) => {
                need(
                    c.file.as_deref().is_none_or(relative_inside),
                    "`file` is relative to the lab folder and stays inside it",
                );
                need(
                    !c.rules.is_empty(),
                    "`rules` lists at least one rule id (e.g. DL3008; `gantry lint` explains them)",
                );
                for rule in &c.rules {
                    need(
                        gantry_insight::lint::rule_info(rule).is_some(),
                        &format!("unknown lint rule {rule:?}; the rules are listed in docs/labs.md"),
                    );
                }
            }
            Self::NetworkAttached(c) => need(!c.containers.is_empty(), "`containers` lists at least one container"),
            Self::ComposeUp(c) => need(!c.services.is_empty(), "`services` lists at least one service"),
            Self::EventSeen(c) => need(
                ["container", "image", "volume", "network", "daemon"].contains(&c.resource.as_str()),
                "`resource` is container, image, volume, network or daemon",
            ),
            Self::BindMount(c) => need(!c.source.is_empty(), "`source` names a folder"),
            _ => {}
        }
        problems
    }

    /// The engine objects the check names, as `(kind, name)`: `container`, `image`, `volume`,
    /// `network`, `project`.
    pub fn objects(&self) -> Vec<(&'static str, &str)> {
        let mut out: Vec<(&'static str, &str)> = Vec::new();
        match self {
            Self::ContainerExists(s) | Self::ContainerRunning(s) | Self::ContainerAbsent(s) => {
                out.extend(selected(&s.container, &s.image))
            }
            Self::ContainerExited(c) => out.extend(selected(&c.container, &c.image)),
            Self::ContainerSettings(ContainerSettings { container, .. })
            | Self::PortPublished(PortPublished { container, .. })
            | Self::BindMount(BindMount { container, .. })
            | Self::LogsContain(LogsContain { container, .. }) => out.push(("container", container)),
            Self::ImageExists(ImageCheck { image })
            | Self::ImageAbsent(ImageCheck { image })
            | Self::ImageNotRoot(ImageCheck { image })
            | Self::ImageHealthcheck(ImageCheck { image })
            | Self::ImageHistory(ImageHistory { image, .. })
            | Self::ImageLayers(ImageLayers { image, .. })
            | Self::ImageFileAbsent(ImageFileAbsent { image, .. }) => out.push(("image", image)),
            Self::ImageSharesLayers(c) => out.extend([("image", c.image.as_str()), ("image", c.with.as_str())]),
            Self::ImageSize(c) => {
                out.push(("image", &c.image));
                out.extend(c.smaller_than.as_deref().map(|i| ("image", i)));
            }
            Self::VolumeExists(VolumeCheck { volume }) | Self::VolumeAbsent(VolumeCheck { volume }) => {
                out.push(("volume", volume))
            }
            Self::VolumeFile(c) => out.push(("volume", &c.volume)),
            Self::VolumeMounted(c) => out.extend([("volume", c.volume.as_str()), ("container", c.container.as_str())]),
            Self::NetworkExists(NetworkCheck { network }) => out.push(("network", network)),
            Self::NetworkAttached(c) => {
                out.push(("network", &c.network));
                out.extend(c.containers.iter().map(|n| ("container", n.as_str())));
            }
            Self::Resolves(c) => out.push(("container", &c.container)),
            Self::ComposeUp(c) => out.push(("project", &c.project)),
            Self::EventSeen(EventSeen { resource, name: Some(name), .. }) if resource == "container" => {
                out.push(("container", name))
            }
            Self::Http(_)
            | Self::FileExists(_)
            | Self::FileContains(_)
            | Self::DockerfileLint(_)
            | Self::EventSeen(_) => {}
        }
        out
    }

    /// Image references the check names (for lint: every image a lab uses is declared or built).
    pub fn images(&self) -> Vec<&str> {
        match self {
            Self::ContainerExists(s) | Self::ContainerRunning(s) | Self::ContainerAbsent(s) => {
                s.image.as_deref().into_iter().collect()
            }
            Self::ContainerExited(c) => c.image.as_deref().into_iter().collect(),
            _ => Vec::new(),
        }
    }
}

/// The objects a container selector names.
fn selected<'a>(container: &'a Option<String>, image: &'a Option<String>) -> Vec<(&'static str, &'a str)> {
    let mut out = Vec::new();
    out.extend(container.as_deref().map(|n| ("container", n)));
    out.extend(image.as_deref().map(|i| ("image", i)));
    out
}

fn port_text(values: &Values, port: &str) -> String {
    values.ports.get(port).map_or_else(|| format!("{{{{lab.port.{port}}}}}"), u16::to_string)
}

/// True for a relative path that does not climb out (`a/b.txt`, not `../x` or `/etc`).
pub fn relative_inside(path: &str) -> bool {
    let p = std::path::Path::new(path);
    !path.is_empty()
        && !p.is_absolute()
        && !path.starts_with(['/', '\\'])
        && !path.contains(':')
        && p.components().all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir))
}

/// A check as the lab states it: its spec, the label shown (the author's, or generated), and the
/// line of the manifest it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub spec: CheckSpec,
    /// The author's own label, instead of the generated one.
    pub label: Option<Text>,
    /// Line in lab.toml.
    pub line: usize,
    /// The fields as written, placeholders unfilled (filled per learner by [`Check::resolve`]).
    raw: toml::Table,
}

impl Check {
    pub(crate) fn new(spec: CheckSpec, label: Option<Text>, line: usize, raw: toml::Table) -> Self {
        Self { spec, label, line, raw }
    }

    /// The spec with `{{lab.…}}` placeholders filled in for one learner.
    pub fn resolve(&self, values: &Values) -> CheckSpec {
        let mut table = self.raw.clone();
        for (_, value) in table.iter_mut() {
            substitute_value(value, values);
        }
        // The raw table parsed before; filling in text keeps it parseable.
        CheckSpec::deserialize(toml::Value::Table(table)).unwrap_or_else(|_| self.spec.clone())
    }

    /// The label in `lang` for one learner.
    pub fn label(&self, lang: Lang, values: &Values) -> String {
        match &self.label {
            Some(text) => placeholders::substitute(text.get(lang), values),
            None => self.resolve(values).label(lang, values),
        }
    }

    /// Every string the check's fields hold (for lint and for naming what a lab creates).
    pub fn strings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for value in self.raw.values() {
            collect_strings(value, &mut out);
        }
        out
    }
}

fn substitute_value(value: &mut toml::Value, values: &Values) {
    match value {
        toml::Value::String(s) => *s = placeholders::substitute(s, values),
        toml::Value::Array(items) => items.iter_mut().for_each(|v| substitute_value(v, values)),
        toml::Value::Table(t) => t.iter_mut().for_each(|(_, v)| substitute_value(v, values)),
        _ => {}
    }
}

pub(crate) fn collect_strings(value: &toml::Value, out: &mut Vec<String>) {
    match value {
        toml::Value::String(s) => out.push(s.clone()),
        toml::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        toml::Value::Table(t) => t.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CheckSpec, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        CheckSpec::deserialize(toml::Value::Table(table)).map_err(|e| e.to_string())
    }

    #[test]
    fn kinds_list_matches_the_enum() {
        for kind in KINDS {
            let err = parse(&format!("kind = \"{kind}\"\nbogus_field = 1")).err().unwrap_or_default();
            assert!(!err.contains("unknown variant"), "{kind}: {err}");
        }
    }

    #[test]
    fn unknown_kinds_and_fields_are_named() {
        let err = parse("kind = \"container_flying\"\ncontainer = \"web\"").unwrap_err();
        assert!(err.contains("unknown variant `container_flying`"), "{err}");
        let err = parse("kind = \"container_running\"\ncontaner = \"web\"").unwrap_err();
        assert!(err.contains("unknown field `contaner`"), "{err}");
        let err = parse("kind = \"image_size\"\nimage = \"x\"\nmax = \"big\"").unwrap_err();
        assert!(err.contains("size"), "{err}");
    }

    #[test]
    fn labels_in_both_languages() {
        let values = Values { dir: "/w".into(), ports: [("web".to_string(), 18080)].into() };
        let spec = parse("kind = \"http\"\nport = \"web\"\nstatus = 200\ncontains = \"Hello\"").unwrap();
        assert_eq!(
            spec.label(Lang::En, &values),
            "`http://localhost:18080/` answers with status 200 with text `Hello`"
        );
        assert_eq!(spec.label(Lang::Ru, &values), "`http://localhost:18080/` отвечает статусом 200 с текстом `Hello`");
        let spec = parse("kind = \"container_running\"\nimage = \"nginx:1.27-alpine\"").unwrap();
        assert_eq!(spec.label(Lang::Ru, &values), "Запущен контейнер из образа `nginx:1.27-alpine`");
    }

    #[test]
    fn validation_is_specific() {
        let spec = parse("kind = \"container_running\"").unwrap();
        assert_eq!(spec.validate(&[]), vec!["give `container` (a name) or `image`"]);
        let spec = parse("kind = \"http\"\nport = \"web\"").unwrap();
        assert!(spec.validate(&[])[0].contains("[ports]"));
        assert!(spec.validate(&["web".into()]).is_empty());
        let spec = parse("kind = \"file_contains\"\nfile = \"../etc/passwd\"\ntext = \"x\"").unwrap();
        assert!(spec.validate(&[])[0].contains("inside"));
    }

    #[test]
    fn paths_stay_inside() {
        assert!(relative_inside("Dockerfile"));
        assert!(relative_inside("./site/index.html"));
        for bad in ["", "/etc/passwd", "../x", "a/../../b", "C:\\x", "\\\\server\\share"] {
            assert!(!relative_inside(bad), "{bad}");
        }
    }
}
