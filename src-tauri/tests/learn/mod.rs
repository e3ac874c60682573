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
