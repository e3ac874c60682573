//! Image checks: exists, absent, history, layer count, size, user, health check.

use gantry_engine::{Engine, ImageDetails};

use super::{CheckResult, Eval, answered, optional};
use crate::check::{ImageHistory, ImageLayers, ImageSharesLayers, ImageSize};
use crate::size::Size;

async fn inspect(engine: &Engine, image: &str) -> Eval<ImageDetails> {
    match optional(engine.inspect_image(image).await)? {
        Some(d) => Ok(d),
        None => Err(CheckResult::fail(format!("there is no image `{image}`"), format!("нет образа `{image}`"))),
    }
}

pub async fn exists(engine: &Engine, image: &str) -> Eval<CheckResult> {
    inspect(engine, image).await.map(|_| CheckResult::pass())
}

pub async fn absent(engine: &Engine, image: &str) -> Eval<CheckResult> {
    let found = optional(engine.inspect_image(image).await)?;
    Ok(CheckResult::given(
        found.is_none(),
        format!("image `{image}` is still there"),
        format!("образ `{image}` ещё есть"),
    ))
}

pub async fn history(engine: &Engine, check: &ImageHistory) -> Eval<CheckResult> {
    inspect(engine, &check.image).await?;
    let layers = answered(engine.image_history(&check.image).await)?;
    let found = layers.iter().any(|l| l.created_by.contains(&check.instruction));
    Ok(CheckResult::given(
        found,
        format!("no layer of `{}` was made by an instruction with `{}`", check.image, check.instruction),
        format!("ни один слой `{}` не создан инструкцией с `{}`", check.image, check.instruction),
    ))
}

pub async fn layers(engine: &Engine, check: &ImageLayers) -> Eval<CheckResult> {
    let d = inspect(engine, &check.image).await?;
    let count = d.layer_count;
    Ok(CheckResult::given(
        count <= check.max as usize,
        format!("`{}` has {count} layers, more than {}", check.image, check.max),
        format!("в `{}` {count} слоёв, больше {}", check.image, check.max),
    ))
}

fn layer_ids(d: &ImageDetails) -> Vec<String> {
    d.raw["RootFS"]["Layers"].as_array().into_iter().flatten().filter_map(|l| l.as_str().map(str::to_string)).collect()
}

pub async fn shares_layers(engine: &Engine, check: &ImageSharesLayers) -> Eval<CheckResult> {
    let image = layer_ids(&inspect(engine, &check.image).await?);
    let with = layer_ids(&inspect(engine, &check.with).await?);
    let shared = image.iter().zip(&with).take_while(|(a, b)| a == b).count();
    Ok(CheckResult::given(
        shared >= check.min as usize,
        format!(
            "`{}` shares {shared} of its first layers with `{}`, fewer than {}",
            check.image, check.with, check.min
        ),
        format!("`{}` использует только {shared} первых слоёв `{}`, меньше {}", check.image, check.with, check.min),
    ))
}

pub async fn size(engine: &Engine, check: &ImageSize) -> Eval<CheckResult> {
    let d = inspect(engine, &check.image).await?;
    let size = Size(d.size.max(0) as u64);
    if let Some(max) = check.max
        && size > max
    {
        return Ok(CheckResult::fail(
            format!("`{}` is {size}, more than {max}", check.image),
            format!("`{}` занимает {size}, больше {max}", check.image),
        ));
    }
    if let Some(other) = &check.smaller_than {
        let other_size = Size(inspect(engine, other).await?.size.max(0) as u64);
        let by = check.by.unwrap_or(Size(0));
        if size.0.saturating_add(by.0) > other_size.0 || size >= other_size {
            return Ok(CheckResult::fail(
                format!("`{}` is {size} and `{other}` {other_size}: not {by} smaller", check.image),
                format!("`{}` занимает {size}, а `{other}` — {other_size}: разница меньше {by}", check.image),
            ));
        }
    }
    Ok(CheckResult::pass())
}

pub async fn not_root(engine: &Engine, image: &str) -> Eval<CheckResult> {
    let d = inspect(engine, image).await?;
    let user = d.raw["Config"]["User"].as_str().unwrap_or("").to_string();
    Ok(CheckResult::given(
        !super::containers::is_root_user(&user),
        format!("`{image}` runs as root: add a `USER` instruction"),
        format!("`{image}` запускается от root: добавьте инструкцию `USER`"),
    ))
}

pub async fn healthcheck(engine: &Engine, image: &str) -> Eval<CheckResult> {
    let d = inspect(engine, image).await?;
    let test: Vec<&str> =
        d.raw["Config"]["Healthcheck"]["Test"].as_array().into_iter().flatten().filter_map(|t| t.as_str()).collect();
    let has = !test.is_empty() && test.first() != Some(&"NONE");
    Ok(CheckResult::given(
        has,
        format!("`{image}` has no health check: add a `HEALTHCHECK` instruction"),
        format!("у `{image}` нет проверки здоровья: добавьте инструкцию `HEALTHCHECK`"),
    ))
}
