//! Render benchmark of the real desktop window (opt-in: `GANTRY_UI_BENCH=1`): UI time to show
//! 1,000 containers and 100,000 log lines, next to the engine call alone. Needs what e2e.rs
//! needs; writes its table to docs/benchmarks-ui.txt (that is what it is asked for).

#[allow(dead_code)] // shared with e2e.rs; this test uses part of it
mod harness;

use std::time::Instant;

use gantry_engine::{ContainerFilter, Engine, LogOptions, RemoveOptions, RunSpec};
use harness::{App, Result, require_env};

const IMAGE: &str = "gantry-test/busybox:latest";

/// Render benchmark: UI time to show 1,000 containers and 100,000 log lines in the real window,
/// next to the engine call alone. Prints a table and writes it to docs/benchmarks-ui.txt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn render_benchmark() -> Result<()> {
    if std::env::var("GANTRY_UI_BENCH").as_deref() != Ok("1") {
        eprintln!("render_benchmark: set GANTRY_UI_BENCH=1 to run it");
        return Ok(());
    }
    let Some(env) = require_env()? else { return Ok(()) };
    let engine = Engine::from_env().await?;
    harness::ensure_fixture_image(&engine, IMAGE).await?;
    // 1,000 containers (created, not started) and one that printed 100,000 lines.
    let t = Instant::now();
    let ids = harness::create_many(&engine, IMAGE, 1000).await?;
    eprintln!("bench: created {} containers in {:.1} s", ids.len(), t.elapsed().as_secs_f64());
    let mut spec = RunSpec::new(IMAGE);
    spec.name = Some("bench-logs".into());
    spec.command = vec![
        "awk".into(),
        "BEGIN{for(i=1;i<=100000;i++) printf \"%06d GET /api/items?page=%d 200 %dms user=%d\\n\", i, i%50, i%97, i%13}"
            .into(),
    ];
    let _ = engine.remove_container("bench-logs", RemoveOptions { force: true, volumes: false }).await;
    let logs_id = engine.run_container(&spec).await?;
    engine.wait_container(&logs_id).await?;

    let app = App::launch(&env).await?;
    let result = async {
        let all = ContainerFilter { all: true, ..Default::default() };
        let list_engine = harness::median_ms(5, || async { engine.list_containers(&all).await.map(|_| ()) }).await?;
        let opts = LogOptions { timestamps: true, ..LogOptions::default() };
        let logs_engine = harness::median_ms(3, || async {
            let lines = engine.read_logs(&logs_id, &opts).await?;
            assert_eq!(lines.len(), 100_000);
            Ok(())
        })
        .await?;
        app.click("[data-testid=nav-containers]").await?;
        app.wait_present("[data-testid=container-table]").await?;
        let mut list = Vec::new();
        for _ in 0..5 {
            list.push(app.bench_container_list(1000).await?);
        }
        list.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (list_ui, list_fetch) = list[list.len() / 2];
        app.screenshot("bench-1000-containers").await?;
        let mut runs = Vec::new();
        for _ in 0..3 {
            runs.push(app.bench_logs(&logs_id, 100_000).await?);
        }
        runs.sort_by(|a, b| a.ms.total_cmp(&b.ms));
        let logs = runs[1];
        app.screenshot("bench-100000-log-lines").await?;
        let report = format!(
            "| case | engine call alone | UI, real window | ratio UI / engine |\n\
             |---|---:|---:|---:|\n\
             | list 1,000 containers (command call incl. IPC: {list_fetch:.0} ms) | {list_engine:.0} ms | {list_ui:.0} ms | {:.2} |\n\
             | stream 100,000 log lines | {logs_engine:.0} ms | {:.0} ms | {:.2} |\n\n\
             Scrolling the 100,000-line log: mean frame {:.1} ms while jumping to 60 far positions, against \
             {:.1} ms for a plain full repaint of the same view (ratio {:.2}); the view's own work per jump \
             (JS + layout) is {:.1} ms.\n",
            list_ui / list_engine,
            logs.ms,
            logs.ms / logs_engine,
            logs.jump_frame,
            logs.repaint_frame,
            logs.jump_frame / logs.repaint_frame,
            logs.jump_js,
        );
        println!("{report}");
        std::fs::write(harness::repo().join("docs/benchmarks-ui.txt"), &report)?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    }
    .await;
    app.quit().await;
    harness::remove_many(&engine, &ids).await;
    let _ = engine.remove_container(&logs_id, RemoveOptions { force: true, volumes: false }).await;
    result
}
