//! The rule catalog: every rule's id, source, severity and its texts in English and Russian
//! (what is wrong, why it matters in one sentence, what the fix does). `{name}` in a text is
//! replaced by the finding's argument of that name.

use serde::Serialize;

use super::{RuleSource, Severity};
use crate::Lang;

/// A text in every supported language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Text {
    pub en: &'static str,
    pub ru: &'static str,
}

impl Text {
    /// The text in `lang`.
    pub fn pick(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.en,
            Lang::Ru => self.ru,
        }
    }
}

const fn t(en: &'static str, ru: &'static str) -> Text {
    Text { en, ru }
}

/// One rule of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    pub id: &'static str,
    /// The same check's ids in other tools.
    pub also: &'static [&'static str],
    pub source: RuleSource,
    pub severity: Severity,
    pub title: Text,
    pub why: Text,
    /// What the fix does, for rules that offer one.
    pub fix: Option<Text>,
}

impl RuleInfo {
    /// Where the rule is documented.
    pub fn docs_url(&self) -> String {
        match self.source {
            RuleSource::Hadolint => format!("https://github.com/hadolint/hadolint/wiki/{}", self.id),
            RuleSource::Buildkit => format!("https://docs.docker.com/reference/build-checks/{}/", kebab(self.id)),
            RuleSource::Gantry => format!("docs/insight.md#{}", self.id.to_ascii_lowercase()),
        }
    }
}

/// `JSONArgsRecommended` → `json-args-recommended`.
fn kebab(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
        let prev_lower = i > 0 && chars[i - 1].is_ascii_lowercase();
        if c.is_ascii_uppercase() && i > 0 && (prev_lower || next_lower) {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The rule with this id (or one of its other-tool ids).
pub fn rule_info(id: &str) -> Option<RuleInfo> {
    RULES.iter().find(|r| r.id == id).or_else(|| RULES.iter().find(|r| r.also.contains(&id))).copied()
}

/// Every rule, for documentation and for the UI's rule list.
pub fn rules() -> &'static [RuleInfo] {
    RULES
}

use RuleSource::{Buildkit, Gantry, Hadolint};
use Severity::{Error, Info, Warning};

const ONLY_LAST_TITLE: Text =
    t("Only the last {keyword} in a stage takes effect", "Действует только последняя инструкция {keyword} в стадии");
const ONLY_LAST_WHY: Text = t(
    "Earlier {keyword} lines are silently ignored, which misleads whoever reads the Dockerfile.",
    "Предыдущие {keyword} молча игнорируются и только сбивают с толку того, кто читает Dockerfile.",
);
const ONLY_LAST_FIX: Text = t("Remove this {keyword}", "Удалить эту инструкцию {keyword}");

/// hadolint's DL4003, DL4004 and DL3012 (one per instruction), BuildKit's one rule for all three.
const fn only_last_takes_effect(id: &'static str, severity: Severity) -> RuleInfo {
    RuleInfo {
        id,
        also: &["MultipleInstructionsDisallowed"],
        source: Hadolint,
        severity,
        title: ONLY_LAST_TITLE,
        why: ONLY_LAST_WHY,
        fix: Some(ONLY_LAST_FIX),
    }
}

const PIN_WHY_EN: &str = "Unpinned packages install whatever version the repository has that day, so a rebuild can silently change or break.";
const PIN_WHY_RU: &str = "Пакеты без версии ставятся в той версии, что сегодня лежит в репозитории, и пересборка может незаметно всё изменить или сломать.";

static RULES: &[RuleInfo] = &[
    // --- Problems the builder itself reports -------------------------------------------------
    RuleInfo {
        id: "UnknownInstruction",
        also: &[],
        source: Gantry,
        severity: Error,
        title: t("Unknown instruction {word}", "Неизвестная инструкция {word}"),
        why: t(
            "The builder stops at a word it does not know as an instruction; check the spelling or a missing \\ on the line above.",
            "Сборщик останавливается на слове, которое не знает как инструкцию; проверьте написание или пропущенный \\ в строке выше.",
        ),
        fix: None,
    },
    RuleInfo {
        id: "UnterminatedHeredoc",
        also: &[],
        source: Gantry,
        severity: Error,
        title: t("The heredoc {delimiter} is never closed", "Heredoc {delimiter} не закрыт"),
        why: t(
            "Everything up to the end of the file becomes part of the heredoc; end it with a line that holds only {delimiter}.",
            "Всё до конца файла становится частью heredoc; завершите его строкой, в которой только {delimiter}.",
        ),
        fix: None,
    },
    RuleInfo {
        id: "MissingArguments",
        also: &[],
        source: Gantry,
        severity: Error,
        title: t("{keyword} needs arguments", "Инструкции {keyword} нужны аргументы"),
        why: t(
            "The builder refuses an instruction without arguments.",
            "Сборщик не принимает инструкцию без аргументов.",
        ),
        fix: None,
    },
    // --- hadolint ----------------------------------------------------------------------------
    RuleInfo {
        id: "DL3000",
        also: &["WorkdirRelativePath"],
        source: Hadolint,
        severity: Error,
        title: t("Use an absolute path in WORKDIR", "Указывайте в WORKDIR абсолютный путь"),
        why: t(
            "A relative WORKDIR depends on the base image's working directory, which can change under you.",
            "Относительный WORKDIR зависит от рабочего каталога базового образа, а тот может измениться.",
        ),
        fix: Some(t("Write the absolute path {path}", "Записать абсолютный путь {path}")),
    },
    RuleInfo {
        id: "DL3001",
        also: &[],
        source: Hadolint,
        severity: Info,
        title: t("{command} makes little sense in a container", "Команда {command} бессмысленна в контейнере"),
        why: t(
            "A build has no init system, no services and no one at a terminal, so tools like ssh, vim, service or shutdown do nothing useful there.",
            "При сборке нет системы инициализации, служб и человека за терминалом, поэтому ssh, vim, service или shutdown там ничего полезного не делают.",
        ),
        fix: None,
    },
    RuleInfo {
        id: "DL3002",
        also: &[],
        source: Hadolint,
        severity: Warning,
        title: t("The last USER is root", "Последний USER — root"),
        why: t(
            "A process running as root in the container has root's power over everything the container can reach; switch to an unprivileged user at the end.",
            "Процесс от root в контейнере получает права root на всё, до чего контейнер может дотянуться; в конце переключитесь на непривилегированного пользователя.",
        ),
        fix: None,
    },
    RuleInfo {
        id: "DL3003",
        also: &[],
        source: Hadolint,
        severity: Warning,
        title: t("Use WORKDIR instead of cd", "Используйте WORKDIR вместо cd"),
        why: t(
            "A cd lasts only for its RUN; WORKDIR sets the directory for every later instruction and says so plainly.",
            "cd действует только внутри своего RUN; WORKDIR задаёт каталог для всех следующих инструкций и говорит об этом явно.",
        ),
        fix: None,
    },
    RuleInfo {
        id: "DL3004",
        also: &[],
        source: Hadolint,
        severity: Error,
        title: t("Do not use sudo", "Не используйте sudo"),
        why: t(
            "Builds already run as root unless USER says otherwise, and sudo is usually missing or wants a terminal; switch users with USER.",
            "Сборка и так идёт от root, если USER не сказал иначе, а sudo обычно нет в образе или ему нужен терминал; меняйте пользователя инструкцией USER.",
        ),
        fix: Some(t("Remove sudo", "Убрать sudo")),
    },
    RuleInfo {
        id: "DL3006",
        also: &[],
        source: Hadolint,
        severity: Warning,
        title: t("Tag the base image {image} with a version", "Укажите версию (тег) базового образа {image}"),
        why: t(
            "Without a tag the build takes whatever 'latest' is today, so the same Dockerfile can build a different image tomorrow.",
            "Без тега сборка берёт то, что сегодня помечено 'latest', и завтра тот же Dockerfile может собрать другой образ.",
        ),
        fix: None,
    },
    RuleInfo {
        id: "DL3007",
        also: &[],
        source: Hadolint,
        severity: Warning,
        title: t("Avoid the 'latest' tag for {image}", "Не используйте тег 'latest' для {image}"),
        why: t(
            "'latest' moves to every new release, so builds are not repeatable; name a version.",
            "'latest' переезжает на каждый новый выпуск, и сборки не повторяются; укажите конкретную версию.",
        ),
        fix: None,
    },
    RuleInfo {
        id: "DL3008",
        also: &[],
        source: Hadolint,
        severity: Warning,
        title: t("Pin versions in apt-get install: {packages}", "Закрепите версии в apt-get install: {packages}"),
        why: t(PIN_WHY_EN, PIN_WHY_RU),
        fix: None,
    },
    RuleInfo {
        id: "DL3009",
        also: &[],
        source: Hadolint,
        severity: Info,
        title: t("Delete the apt lists after installing", "Удалите списки apt после установки"),
        why: t(
            "apt-get update leaves tens of megabytes in /var/lib/apt/lists that stay in this layer for good unless the same RUN removes them.",
            "apt-get update оставляет десятки мегабайт в /var/lib/apt/lists, и они навсегда остаются в слое, если тот же RUN их не удалит.",
        ),
        fix: Some(t("Add && rm -rf /var/lib/apt/lists/*", "Добавить && rm -rf /var/lib/apt/lists/*")),
    },
    RuleInfo {
        id: "DL3011",
        also: &[],
        source: Hadolint,
        severity: Error,
        title: t("{port} is not a valid port (0–65535)", "{port} — недопустимый порт (0–65535)"),
        why: t(
            "EXPOSE takes port numbers from 0 to 65535; anything else fails the build.",
            "EXPOSE принимает номера портов от 0 до 65535; с другим значением сборка завершится ошибкой.",
        ),
        fix: None,
    },
    only_last_takes_effect("DL3012", Error),
    RuleInfo {
        id: "DL3013",
        also: &[],
        source: Hadolint,
        severity: Warning,
        title: t("Pin versions in pip install: {packages}", "Закрепите версии в pip install: {packages}"),
        why: t(PIN_WHY_EN, PIN_WHY_RU),
        fix: None,
    },
    RuleInfo {
        id: "DL3014",
        also: &[],
        source: Hadolint,
        severity: Warning,
        title: t("Use -y with apt-get install", "Добавьте -y к apt-get install"),
        why: t(
            "Without -y apt-get asks for confirmation, gets no answer in a build and gives up.",
            "Без -y apt-get спрашивает подтверждение, при сборке ответа нет, и установка прерывается.",
        ),
        fix: Some(t("Add -y", "Добавить -y")),
    },
    RuleInfo {
        id: "DL3015",
        also: &[],
        source: Hadolint,
        severity: Info,
        title: t(
            "Add --no-install-recommends to apt-get install",
            "Добавьте --no-install-recommends к apt-get install",
        ),
        why: t(
            "Recommended packages are rarely needed in a container and often double what gets installed.",
            "Рекомендуемые пакеты в контейнере почти не нужны, а объём установки от них часто удваивается.",
        ),
        fix: Some(t("Add --no-install-recommends", "Добавить --no-install-recommends")),
    },
    RuleInfo {
        id: "DL3016",
        also: &[],
        source: Hadolint,
        severity: Warning,
        title: t("Pin versions in npm install: {packages}", "Закрепите версии в npm install: {packages}"),
        why: t(PIN_WHY_EN, PIN_WHY_RU),
        fix: None,
    },
    RuleInfo {
        id: "DL3018",
        also: &[],
        source: Hadolint,
        severity: Warning,
        title: t("Pin versions in apk add: {packages}", "Закрепите версии в apk add: {packages}"),
        why: t(PIN_WHY_EN, PIN_WHY_RU),
        fix: None,
    },
    RuleInfo {
        id: "DL3019",
        also: &[],
        source: Hadolint,
        severity: Info,
        title: t("Use apk add --no-cache", "Используйте apk add --no-cache"),
        why: t(
            "Without --no-cache apk keeps its package index in the layer; with it the index is fetched on the fly and nothing stays behind.",
            "Без --no-cache apk оставляет индекс пакетов в слое; с ним индекс скачивается на лету и ничего не остаётся.",
        ),
        fix: Some(t("Add --no-cache", "Добавить --no-cache")),
    },
    RuleInfo {
        id: "DL3020",
        also: &[],
        source: Hadolint,
        severity: Error,
        title: t("Use COPY instead of ADD for files and folders", "Используйте COPY вместо ADD для файлов и каталогов"),
        why: t(
            "ADD also downloads URLs and unpacks archives; COPY does exactly what it says, so the reader knows what happens.",
            "ADD ещё скачивает URL и распаковывает архивы, а COPY делает ровно то, что написано, и читателю всё ясно.",
        ),
        fix: Some(t("Replace ADD with COPY", "Заменить ADD на COPY")),
    },
    RuleInfo {
        id: "DL3021",
        also: &[],
        source: Hadolint,
        severity: Error,
        title: t(
            "With several sources the destination {dest} must end with /",
            "При нескольких источниках путь назначения {dest} должен оканчиваться на /",
        ),
        why: t(
            "Docker refuses to copy several files to a destination that is not a directory.",
            "Docker не копирует несколько файлов в путь, который не является каталогом.",
        ),
        fix: Some(t("Write {dest}/", "Написать {dest}/")),
    },
    RuleInfo {
        id: "DL3022",
        also: &[],
        source: Hadolint,
        severity: Warning,
        title: t("COPY --from={name} names no earlier stage", "COPY --from={name}: такой стадии выше нет"),
        why: t(
            "COPY --from must name a stage defined above (or an image); otherwise the build tries to pull an image called {name}.",
            "COPY --from должен ссылаться на стадию, объявленную выше (или на образ), иначе сборка попытается скачать образ с именем {name}.",
        ),
        fix: None,
    },
    RuleInfo {
        id: "DL3023",
        also: &[],
        source: Hadolint,
        severity: Error,
        title: t(
            "COPY --from cannot copy from its own stage {name}",
            "COPY --from не может копировать из своей же стадии {name}",
        ),
        why: t(
            "A stage cannot read its own result while it is being built.",
            "Стадия не может читать собственный результат, пока она собирается.",
        ),
        fix: None,
    },
    RuleInfo {
        id: "DL3024",
        also: &["DuplicateStageName"],
        source: Hadolint,
        severity: Error,
        title: t("The stage name {name} is used twice", "Имя стадии {name} использовано дважды"),
        why: t(
            "COPY --from and --target pick one of the stages with that name, rarely the one you meant.",
            "COPY --from и --target выберут одну из стадий с этим именем, и редко ту, что вы имели в виду.",
        ),
        fix: None,
    },
    RuleInfo {
        id: "DL3025",
        also: &["JSONArgsRecommended"],
        source: Hadolint,
        severity: Warning,
        title: t("Use the JSON form for {keyword}", "Используйте JSON-форму для {keyword}"),
        why: t(
            "In shell form the command runs under /bin/sh, which does not pass stop signals on, so docker stop waits and then kills it.",
            "В shell-форме команда запускается через /bin/sh, который не передаёт сигналы остановки, и docker stop ждёт, а потом убивает процесс.",
        ),
        fix: Some(t("Rewrite as {json}", "Переписать как {json}")),
    },
    RuleInfo {
        id: "DL3027",
        also: &[],
        source: Hadolint,
        severity: Warning,
        title: t("Use apt-get instead of apt", "Используйте apt-get вместо apt"),
        why: t(
            "apt is made for people at a terminal: its output and options are not stable for scripts.",
            "apt рассчитан на человека за терминалом: его вывод и параметры не стабильны для скриптов.",
        ),
        fix: Some(t("Replace apt with apt-get", "Заменить apt на apt-get")),
    },
    RuleInfo {
        id: "DL3042",
        also: &[],
        source: Hadolint,
        severity: Warning,
        title: t("Use pip install --no-cache-dir", "Используйте pip install --no-cache-dir"),
        why: t(
            "pip's download cache stays in the layer and only makes the image bigger.",
            "Кэш загрузок pip остаётся в слое и только увеличивает образ.",
        ),
        fix: Some(t("Add --no-cache-dir", "Добавить --no-cache-dir")),
    },
    RuleInfo {
        id: "DL3045",
        also: &[],
        source: Hadolint,
        severity: Warning,
        title: t("COPY to a relative path without a WORKDIR", "COPY в относительный путь без WORKDIR"),
        why: t(
            "The files land relative to the base image's working directory, which you do not control; set WORKDIR first or use an absolute path.",
            "Файлы попадут относительно рабочего каталога базового образа, который вы не контролируете; сначала задайте WORKDIR или укажите абсолютный путь.",
        ),
        fix: None,
    },
    RuleInfo {
        id: "DL3059",
        also: &[],
        source: Hadolint,
        severity: Info,
        title: t("Several RUN instructions in a row", "Несколько RUN подряд"),
        why: t(
            "Each RUN makes a layer; joining neighbours with && gives fewer layers and lets one step clean up after itself.",
            "Каждый RUN создаёт слой; объединив соседние через &&, вы получите меньше слоёв, и один шаг сможет убрать за собой.",
        ),
        fix: Some(t("Join with the RUN above", "Объединить с RUN выше")),
    },
    RuleInfo {
        id: "DL4000",
        also: &["MaintainerDeprecated"],
        source: Hadolint,
        severity: Error,
        title: t("MAINTAINER is deprecated", "MAINTAINER устарел"),
        why: t(
            "Image authors are recorded with a label now, which tools can read.",
            "Автора образа теперь записывают меткой (LABEL), которую читают инструменты.",
        ),
        fix: Some(t(
            "Replace with LABEL org.opencontainers.image.authors",
            "Заменить на LABEL org.opencontainers.image.authors",
        )),
    },
    RuleInfo {
        id: "DL4001",
        also: &[],
        source: Hadolint,
        severity: Warning,
        title: t("Use either wget or curl, not both", "Используйте либо wget, либо curl, а не оба"),
        why: t(
            "Two download tools mean two sets of dependencies in the image and two things to keep patched.",
            "Два инструмента загрузки — это два набора зависимостей в образе и две вещи, которые нужно обновлять.",
        ),
        fix: None,
    },
    only_last_takes_effect("DL4003", Warning),
    only_last_takes_effect("DL4004", Error),
    RuleInfo {
        id: "DL4006",
        also: &[],
        source: Hadolint,
        severity: Warning,
        title: t("Set -o pipefail before a RUN with a pipe", "Задайте -o pipefail перед RUN с конвейером"),
        why: t(
            "Without pipefail a failing command before | goes unnoticed and the build succeeds with a broken result.",
            "Без pipefail ошибка команды перед | остаётся незамеченной, и сборка «успешно» собирает сломанный результат.",
        ),
        fix: Some(t(
            "Add SHELL [\"{shell}\", \"-o\", \"pipefail\", \"-c\"]",
            "Добавить SHELL [\"{shell}\", \"-o\", \"pipefail\", \"-c\"]",
        )),
    },
    // --- BuildKit build checks ---------------------------------------------------------------
    RuleInfo {
        id: "StageNameCasing",
        also: &[],
        source: Buildkit,
        severity: Warning,
        title: t("The stage name {name} should be lower case", "Имя стадии {name} лучше писать строчными буквами"),
        why: t(
            "Lower-case stage names stand apart from instruction keywords.",
            "Имена стадий строчными буквами не путаются с ключевыми словами инструкций.",
        ),
        fix: Some(t("Rename it to {lower}", "Переименовать в {lower}")),
    },
    RuleInfo {
        id: "FromAsCasing",
        also: &[],
        source: Buildkit,
        severity: Warning,
        title: t("'{as}' should match the casing of '{from}'", "'{as}' должно быть в том же регистре, что и '{from}'"),
        why: t(
            "Mixed casing within one instruction is harder to read.",
            "Смешанный регистр в одной инструкции читается хуже.",
        ),
        fix: Some(t("Write {fixed}", "Написать {fixed}")),
    },
    RuleInfo {
        id: "NoEmptyContinuation",
        also: &[],
        source: Buildkit,
        severity: Warning,
        title: t("Empty line inside a continued instruction", "Пустая строка внутри продолженной инструкции"),
        why: t(
            "Blank lines inside a continued instruction will be an error in a future Docker release.",
            "Пустые строки внутри продолженной инструкции в будущих версиях Docker станут ошибкой.",
        ),
        fix: Some(t("Remove the empty line", "Удалить пустую строку")),
    },
    RuleInfo {
        id: "ConsistentInstructionCasing",
        also: &[],
        source: Buildkit,
        severity: Warning,
        title: t(
            "Write {written} as {expected}, like the other instructions",
            "Напишите {written} как {expected}, как остальные инструкции",
        ),
        why: t("Consistent casing makes a Dockerfile easier to scan.", "Единый регистр облегчает чтение Dockerfile."),
        fix: Some(t("Write {expected}", "Написать {expected}")),
    },
    RuleInfo {
        id: "ReservedStageName",
        also: &[],
        source: Buildkit,
        severity: Warning,
        title: t(
            "{name} is reserved and cannot name a stage",
            "{name} — зарезервированное слово, им нельзя называть стадию",
        ),
        why: t(
            "'scratch' and 'context' have special meanings in FROM and COPY --from.",
            "'scratch' и 'context' имеют особый смысл в FROM и COPY --from.",
        ),
        fix: None,
    },
    RuleInfo {
        id: "UndefinedArgInFrom",
        also: &[],
        source: Buildkit,
        severity: Warning,
        title: t(
            "FROM uses ${name}, which no ARG before the first FROM declares",
            "FROM использует ${name}, но ни один ARG до первого FROM его не объявляет",
        ),
        why: t(
            "Only ARGs declared before the first FROM can be used in FROM; this one expands to an empty string.",
            "В FROM доступны только ARG, объявленные до первого FROM; эта переменная станет пустой строкой.",
        ),
        fix: None,
    },
    RuleInfo {
        id: "InvalidDefaultArgInFrom",
        also: &[],
        source: Buildkit,
        severity: Warning,
        title: t(
            "With the default build arguments FROM names {image}, which is not a valid image",
            "При значениях ARG по умолчанию FROM получает {image} — недопустимое имя образа",
        ),
        why: t(
            "A build without --build-arg fails because the base image name is invalid; give the ARG a default.",
            "Сборка без --build-arg упадёт из-за неверного имени базового образа; задайте ARG значение по умолчанию.",
        ),
        fix: None,
    },
    RuleInfo {
        id: "RedundantTargetPlatform",
        also: &[],
        source: Buildkit,
        severity: Warning,
        title: t(
            "--platform=$TARGETPLATFORM is the default",
            "--platform=$TARGETPLATFORM и так действует по умолчанию",
        ),
        why: t(
            "FROM already uses the target platform; the flag only adds noise.",
            "FROM и так использует целевую платформу; флаг только загромождает строку.",
        ),
        fix: Some(t("Remove the flag", "Убрать флаг")),
    },
    RuleInfo {
        id: "FromPlatformFlagConstDisallowed",
        also: &[],
        source: Buildkit,
        severity: Warning,
        title: t("FROM --platform={platform} fixes the platform", "FROM --platform={platform} жёстко задаёт платформу"),
        why: t(
            "A constant platform makes the stage ignore --platform and breaks multi-platform builds; use a build argument such as $BUILDPLATFORM.",
            "Постоянная платформа заставляет стадию игнорировать --platform и ломает мультиплатформенные сборки; используйте аргумент, например $BUILDPLATFORM.",
        ),
        fix: None,
    },
    RuleInfo {
        id: "LegacyKeyValueFormat",
        also: &[],
        source: Buildkit,
        severity: Warning,
        title: t("Use {keyword} key=value", "Используйте форму {keyword} ключ=значение"),
        why: t(
            "The old '{keyword} key value' form sets only one value and reads ambiguously; key=value is the documented form.",
            "Старая форма '{keyword} ключ значение' задаёт только одно значение и читается неоднозначно; документированная форма — ключ=значение.",
        ),
        fix: Some(t("Write {fixed}", "Написать {fixed}")),
    },
    RuleInfo {
        id: "SecretsUsedInArgOrEnv",
        also: &[],
        source: Buildkit,
        severity: Warning,
        title: t("{keyword} {name} looks like a secret", "{keyword} {name} похоже на секрет"),
        why: t(
            "ARG and ENV values stay in the image's history and configuration for anyone who has the image; use a secret mount (RUN --mount=type=secret).",
            "Значения ARG и ENV остаются в истории и конфигурации образа, их прочтёт любой, у кого есть образ; используйте секретное монтирование (RUN --mount=type=secret).",
        ),
        fix: None,
    },
    RuleInfo {
        id: "ExposeProtoCasing",
        also: &[],
        source: Buildkit,
        severity: Warning,
        title: t("The protocol in {port} should be lower case", "Протокол в {port} пишется строчными буквами"),
        why: t("Docker expects tcp, udp or sctp in lower case.", "Docker ожидает tcp, udp или sctp строчными буквами."),
        fix: Some(t("Write {fixed}", "Написать {fixed}")),
    },
    RuleInfo {
        id: "ExposeInvalidFormat",
        also: &[],
        source: Buildkit,
        severity: Warning,
        title: t("EXPOSE {port} includes a host address or port", "EXPOSE {port} содержит адрес или порт хоста"),
        why: t(
            "EXPOSE only documents container ports; the host side is chosen with docker run -p.",
            "EXPOSE только описывает порты контейнера; сторону хоста выбирают через docker run -p.",
        ),
        fix: Some(t("Write {fixed}", "Написать {fixed}")),
    },
    RuleInfo {
        id: "UndefinedVar",
        also: &[],
        source: Buildkit,
        severity: Warning,
        title: t(
            "${name} is not defined; did you mean ${suggestion}?",
            "Переменная ${name} не определена; может быть, ${suggestion}?",
        ),
        why: t(
            "An undefined variable silently expands to an empty string.",
            "Неопределённая переменная молча превращается в пустую строку.",
        ),
        fix: Some(t("Use ${suggestion}", "Использовать ${suggestion}")),
    },
    RuleInfo {
        id: "CopyIgnoredFile",
        also: &[],
        source: Buildkit,
        severity: Warning,
        title: t("{source} is excluded by .dockerignore", "{source} исключён в .dockerignore"),
        why: t(
            "Excluded files are never sent to the builder, so this instruction fails or copies nothing.",
            "Исключённые файлы не передаются сборщику, поэтому эта инструкция упадёт или ничего не скопирует.",
        ),
        fix: None,
    },
    // --- Gantry: the tutorials' advice ---------------------------------------------------------
    RuleInfo {
        id: "AptUpdateInSeparateRun",
        also: &[],
        source: Gantry,
        severity: Warning,
        title: t("apt-get update runs in its own RUN", "apt-get update выполняется в отдельном RUN"),
        why: t(
            "Its layer is cached, so a later install can use a stale package list and fail or get old versions; update and install in the same RUN.",
            "Его слой кэшируется, и следующая установка может взять устаревший список пакетов и упасть или получить старые версии; делайте update и install в одном RUN.",
        ),
        fix: Some(t("Join with the install below", "Объединить с установкой ниже")),
    },
    RuleInfo {
        id: "CopyDependenciesFirst",
        also: &[],
        source: Gantry,
        severity: Warning,
        title: t("Copy {manifests} before the rest of the code", "Копируйте {manifests} раньше остального кода"),
        why: t(
            "With the whole code copied before the dependencies are installed, any code change re-runs the slow install; copy the dependency list first so that layer stays cached.",
            "Если весь код копируется до установки зависимостей, любая правка кода заново запускает долгую установку; скопируйте сначала список зависимостей, и этот слой останется в кэше.",
        ),
        fix: Some(t(
            "Copy {manifests} and install before copying the code",
            "Скопировать {manifests} и установить зависимости до копирования кода",
        )),
    },
    RuleInfo {
        id: "MissingDockerignore",
        also: &[],
        source: Gantry,
        severity: Warning,
        title: t(
            "No .dockerignore, and this copies the whole context",
            "Нет .dockerignore, а здесь копируется весь контекст",
        ),
        why: t(
            "Without it everything is sent to the builder and can land in the image: .git, node_modules, local secrets such as .env.",
            "Без него сборщику уходит всё подряд, и это может попасть в образ: .git, node_modules, локальные секреты вроде .env.",
        ),
        fix: Some(t("Create a .dockerignore", "Создать .dockerignore")),
    },
    RuleInfo {
        id: "MultiStageBuild",
        also: &[],
        source: Gantry,
        severity: Info,
        title: t(
            "Build tools end up in the final image: {tools}",
            "Инструменты сборки попадают в итоговый образ: {tools}",
        ),
        why: t(
            "Compilers and build dependencies make the shipped image big and widen its attack surface; build in one stage and COPY --from only the result into a small final stage.",
            "Компиляторы и зависимости сборки раздувают поставляемый образ и расширяют поверхность атаки; собирайте в одной стадии и копируйте через COPY --from только результат в маленькую итоговую стадию.",
        ),
        fix: None,
    },
    RuleInfo {
        id: "RunsAsRoot",
        also: &[],
        source: Gantry,
        severity: Info,
        title: t("The image runs as root", "Образ запускается от root"),
        why: t(
            "Without a USER instruction the container's process runs as root; create an unprivileged user and switch to it with USER.",
            "Без инструкции USER процесс контейнера работает от root; создайте непривилегированного пользователя и переключитесь на него через USER.",
        ),
        fix: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::placeholders;

    #[test]
    fn every_rule_speaks_every_language_with_the_same_placeholders() {
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "duplicate rule ids");
        for rule in RULES {
            let texts = [Some(rule.title), Some(rule.why), rule.fix];
            for text in texts.into_iter().flatten() {
                assert!(!text.en.is_empty() && !text.ru.is_empty(), "{}: empty text", rule.id);
                assert_ne!(text.en, text.ru, "{}: untranslated", rule.id);
                assert_eq!(placeholders(text.en), placeholders(text.ru), "{}: placeholders differ", rule.id);
            }
            assert!(rule.why.en.ends_with('.') && rule.why.ru.ends_with('.'), "{}: why is one sentence", rule.id);
        }
    }

    #[test]
    fn docs_links() {
        assert_eq!(kebab("JSONArgsRecommended"), "json-args-recommended");
        assert_eq!(kebab("FromAsCasing"), "from-as-casing");
        assert_eq!(rule_info("JSONArgsRecommended").map(|r| r.id), Some("DL3025"), "other-tool ids find their rule");
        assert_eq!(
            rule_info("StageNameCasing").map(|r| r.docs_url()).as_deref(),
            Some("https://docs.docker.com/reference/build-checks/stage-name-casing/")
        );
    }

    #[test]
    fn every_rule_is_documented() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/insight.md"))
            .expect("docs/insight.md");
        for rule in RULES {
            let documented = match rule.source {
                Gantry => doc.contains(&format!("#### {}\n", rule.id)),
                _ => doc.contains(rule.id) && rule.also.iter().all(|a| doc.contains(a)),
            };
            assert!(documented, "{} is not in docs/insight.md", rule.id);
        }
    }
}
