//! The Learn panel's scenario: the catalogue, a lab started, a step's checks failing live, a hint,
//! the learner doing what the step asks (the step turns green from the engine's events, no
//! button pressed), a reset that removes only what the lab created, and the panel in Russian.

use gantry_engine::EngineError;

use super::{Ctx, IMAGE};
use crate::harness::Result;

/// The first lab of the catalogue, in English and in Russian.
pub async fn learn_a_step_turns_green_then_reset(ctx: &Ctx) -> Result<()> {
    let app = &ctx.app;
    // The lab declares busybox:1.36; no registry here, so the fixture stands in under that name.
    ctx.engine.tag_image(IMAGE, "busybox:1.36").await?;
    ctx.remove("hello").await;
    app.click("[data-testid=nav-learn]").await?;
    app.wait_text("[data-testid=lab-catalogue]", "Your first container").await?;
    app.screenshot("learn-catalogue").await?;
    app.click("[data-testid=lab-first-container]").await?;
    app.click("[data-testid=lab-start]").await?;
    app.wait_present("[data-testid=lab-work-dir]").await?;
    // The lab's images, busybox:1.36 ticked as there (tagged above).
    app.wait_text("[data-testid=lab-images]", "busybox:1.36").await?;
    app.wait_present("[data-testid=lab-images] .ok").await?;
    // Checked live: nothing named hello yet, so the step's checks fail, each saying why.
    app.wait_present("[data-testid=lab-check][data-status=fail]").await?;
    app.wait_text("[data-testid=lab-checks]", "hello").await?;
    app.wait_text("[data-testid=lab-markdown]", "docker run --name hello").await?;
    app.screenshot("learn-step").await?;
    app.click("[data-testid=lab-hint-more]").await?;
    app.wait_text("[data-testid=lab-hint]", "--name hello").await?;
    app.screenshot("learn-hint").await?;

    // The learner's own container, made while the lab runs under a name the lab does not use.
    ctx.run("e2e-mine", "sleep 300", |_| {}).await?;
    // What the step asks for; the panel ticks it from the engine's events.
    ctx.run("hello", "echo Hello from a container", |_| {}).await?;
    app.wait_present("[data-testid=lab-step-0] .tick.ok").await?;
    app.click("[data-testid=lab-step-0]").await?;
    app.wait_present("[data-testid=lab-step-passed]").await?;
    app.screenshot("learn-passed").await?;

    // Reset lists what it removes (the lab's container), removes it and nothing else.
    app.click("[data-testid=lab-reset]").await?;
    app.wait_text("[data-testid=lab-reset-plan]", "hello").await?;
    let plan = app.text_of("[data-testid=lab-reset-plan]").await?.unwrap_or_default();
    assert!(!plan.contains("e2e-mine"), "the reset plan names the learner's own container: {plan}");
    app.click("[data-testid=confirm]").await?;
    app.wait_present("[data-testid=lab-reset-done]").await?;
    assert!(
        matches!(ctx.engine.inspect_container("hello").await, Err(EngineError::NotFound { .. })),
        "the lab's container is still there after the reset"
    );
    ctx.engine.inspect_container("e2e-mine").await?;
    ctx.remove("e2e-mine").await;

    // In Russian: the panel's words and the lab's texts.
    let choose = |lang: &'static str| async move {
        app.click("[data-testid=nav-settings]").await?;
        app.clear_and_type("[data-testid=vm-disk]", "8").await?;
        app.find_element("[data-testid=language]").await?.select_by_value(lang).await?;
        app.click("[data-testid=settings-save]").await?;
        app.wait_present("[data-testid=settings-saved]").await
    };
    choose("ru").await?;
    let russian = async {
        app.click("[data-testid=nav-learn]").await?;
        app.wait_text("[data-testid=lab-step]", "Шаг 1 из").await?;
        app.wait_text("[data-testid=lab-markdown]", "контейнер").await?;
        app.screenshot("learn-ru").await
    }
    .await;
    choose("system").await?;
    russian
}

/// The Learn panel's terminal on this computer: off at first (the panel says where to turn it
/// on), turned on in Settings, opened in the lab's folder; the step's command typed in it turns
/// the step green; leaving the panel ends the shell.
pub async fn learn_in_the_app_terminal(ctx: &Ctx) -> Result<()> {
    let app = &ctx.app;
    ctx.engine.tag_image(IMAGE, "busybox:1.36").await?;
    ctx.remove("hello").await;
    app.click("[data-testid=nav-learn]").await?;
    // The panel shows the catalogue, or the lab an earlier scenario left open.
    app.wait_present("[data-testid=lab-catalogue], [data-testid=learn-terminal-section]").await?;
    if app.text_of("[data-testid=lab-catalogue]").await?.is_some() {
        app.click("[data-testid=lab-first-container]").await?;
    }
    app.wait_present("[data-testid=learn-terminal-section]").await?;
    if app.text_of("[data-testid=lab-start]").await?.is_some() {
        app.click("[data-testid=lab-start]").await?;
    }
    app.wait_present("[data-testid=lab-work-dir]").await?;

    // Off by default: the panel says so and leads to the setting.
    app.click_until("[data-testid=learn-terminal-settings]", "[data-testid=host-terminal]").await?;
    let turn = |on: bool| async move {
        app.wait_present("[data-testid=host-terminal]").await?;
        let checked = app.execute("return document.querySelector('[data-testid=host-terminal]').checked;").await?;
        if checked.as_bool() != Some(on) {
            app.click("[data-testid=host-terminal]").await?;
        }
        app.clear_and_type("[data-testid=vm-disk]", "8").await?;
        app.click("[data-testid=settings-save]").await?;
        app.wait_present("[data-testid=settings-saved]").await
    };
    turn(true).await?;
    let in_terminal = async {
        app.click("[data-testid=nav-learn]").await?;
        app.click("[data-testid=learn-terminal-toggle]").await?;
        app.wait_present("[data-testid=learn-terminal] .xterm").await?;
        let rows = "[data-testid=learn-terminal] .xterm-rows";
        let keys = "[data-testid=learn-terminal] textarea";
        // The shell runs in the lab's work folder.
        app.type_into(keys, "echo hi-$((1+2)) in $(basename \"$PWD\") pid-$$\n").await?;
        app.wait_text(rows, "hi-3 in first-container").await?;
        let text = app.text_of(rows).await?.unwrap_or_default();
        let shell = text
            .match_indices("pid-")
            .find_map(|(at, _)| {
                let digits: String = text[at + 4..].chars().take_while(char::is_ascii_digit).collect();
                digits.parse::<u32>().ok()
            })
            .ok_or_else(|| format!("no shell pid in {text:?}"))?;
        // What the step asks, typed in the app's terminal; docker goes to the app's engine.
        app.type_into(keys, "docker run --name hello busybox:1.36 echo Hello from a container\n").await?;
        app.wait_present("[data-testid=lab-step-0] .tick.ok").await?;
        app.screenshot("learn-terminal").await?;
        // Leaving the panel ends the shell.
        app.click("[data-testid=nav-dashboard]").await?;
        crate::harness::wait_for("the terminal's shell to end when the panel is left", move || !running(shell)).await
    }
    .await;
    app.click("[data-testid=nav-settings]").await?;
    let off = turn(false).await;
    ctx.remove("hello").await;
    in_terminal.and(off)
}

/// Whether process `pid` runs (a zombie does not: this machine's PID 1 reaps nothing).
fn running(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}
