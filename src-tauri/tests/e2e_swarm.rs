//! End-to-end test of the engine switcher and the Swarm panel: the app starts with a private
//! GANTRY_HOME, no DOCKER_HOST, and a docker config holding a context for the Swarm manager that
//! scripts/lib/swarm.sh starts; the switcher lists it and switches to it, the Swarm panel shows
//! the stack deployed beforehand with its nodes, and a scale typed in the panel is followed until
//! the replicas run (checked on the engine too). Screenshots: `engine-switcher`, `swarm`.
//!
//! Runs when the e2e prerequisites are there (see e2e.rs) and `GANTRY_TEST_SWARM_MANAGER` names
//! the manager (scripts/test sets it); otherwise it says why and passes.

#[allow(dead_code)] // shared with e2e.rs; this test uses part of it
mod harness;

use std::path::Path;
use std::time::Duration;

use gantry_engine::stacks::plan_stack;
use gantry_engine::{ContextStore, Endpoint, Engine, NewContext};
use harness::{App, Result};

const CONTEXT: &str = "e2e-swarm";
/// Bound on tasks starting on a loaded machine.
const CONVERGE: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_switcher_and_swarm_panel() -> Result<()> {
    let Some(env) = harness::require_env_for(false)? else { return Ok(()) };
    let Ok(manager) = std::env::var("GANTRY_TEST_SWARM_MANAGER") else {
        gantry_testkit::skip::skipped(
            "engine_switcher_and_swarm_panel",
            "no swarm (scripts/test starts one: scripts/lib/swarm.sh)",
        );
        return Ok(());
    };
    let engine = Engine::connect(&Endpoint::parse(&manager)?).await?;
    let stack = format!("ui{}", std::process::id());
    let compose = "services:\n  web:\n    image: gantry-test/busybox:latest\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 1000 & wait\"]\n    ports: [\"18080:80\"]\n    deploy: {replicas: 2}\n  worker:\n    image: gantry-test/busybox:latest\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 1000 & wait\"]\n";
    let plan = plan_stack(&stack, compose, Path::new("/"), &|_| None)?;
    engine.deploy_stack(&plan, false).await?;

    let docker_config = env.home.path().join("docker");
    ContextStore::new(&docker_config).create(&NewContext {
        name: CONTEXT.into(),
        description: "the test Swarm's manager".into(),
        host: manager.clone(),
        ..Default::default()
    })?;
    let docker_config = docker_config.display().to_string();
    let config = env.home.path().join("config").display().to_string();
    let vars = [("DOCKER_CONFIG", docker_config.as_str()), ("XDG_CONFIG_HOME", config.as_str())];
    let app = App::launch_env(&env, &vars, &["DOCKER_HOST", "GANTRY_ENGINE"]).await?;
    let result = scenario(&app, &engine, &stack).await;
    if result.is_err() {
        let _ = app.screenshot("failure-swarm").await;
    }
    app.quit().await;
    let _ = engine.remove_stack(&stack).await;
    result
}

async fn scenario(app: &App, engine: &Engine, stack: &str) -> Result<()> {
    let web = format!("{stack}_web");
    // the switcher lists the context and switches Gantry to it
    app.click("[data-testid=engine-switcher]").await?;
    app.wait_present(&format!("[data-testid=engine-{CONTEXT}]")).await?;
    app.screenshot("engine-switcher").await?;
    app.click(&format!("[data-testid=engine-{CONTEXT}] button.pick")).await?;
    app.wait_text("[data-testid=engine-switcher]", CONTEXT).await?;
    app.wait_present("[data-testid=engine-latency]").await?;

    // the Swarm panel: the stack's services, the two nodes
    app.click("[data-testid=nav-swarm]").await?;
    app.wait_present(&format!("[data-testid=service-{web}]")).await?;
    app.wait_present("[data-testid=node-gantry-swarm-manager]").await?;
    app.wait_present("[data-testid=node-gantry-swarm-worker]").await?;
    app.wait_present(&format!("[data-testid=stack-{stack}]")).await?;

    // a scale typed in the panel, followed until the replicas run
    let row = format!("[data-testid=service-{web}]");
    app.type_into(&format!("{row} input[type=number]"), "3").await?;
    app.click(&format!("{row} button.icon")).await?;
    app.wait_text_for(&format!("{row} td:nth-child(3)"), "3/3", CONVERGE).await?;
    let summary = engine.service(&web).await?;
    if (summary.running, summary.desired) != (3, 3) {
        return Err(format!("the engine has {}/{} replicas of {web}", summary.running, summary.desired).into());
    }
    app.screenshot("swarm").await?;
    Ok(())
}
