//! The webview's commands: gantry-core's [command table](gantry_core::command_table) expanded
//! into `#[tauri::command]` functions, each a one-line delegation to the `Gantry` method of the
//! same name. Streams go to the UI through a `Channel` and are cancelled with `stream_cancel`.
//! Nothing here is written per command: add a command in gantry-core.

use gantry_core::api::{ApiResult, Gantry, StreamMsg};
use serde::Serialize;
use tauri::State;
use tauri::ipc::Channel;

/// Turns a channel into the sink gantry-core streams into (a closed window just drops items).
fn sink<T: Serialize + Clone + Send + Sync + 'static>(
    channel: Channel<StreamMsg<T>>,
) -> impl Fn(StreamMsg<T>) + Send + Sync + 'static {
    move |msg| {
        let _ = channel.send(msg);
    }
}

macro_rules! tauri_commands {
    ($( $(#[doc = $doc:literal])* $kind:ident $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $out:ty ; )*) => {
        $( tauri_commands!(@one $kind $name ($($arg : $ty),*) -> $out); )*

        /// The handler `main` registers: exactly the commands of the table.
        pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name),*]
        }
    };
    (@one fn $name:ident ($($arg:ident : $ty:ty),*) -> $out:ty) => {
        #[tauri::command(rename_all = "snake_case")]
        pub async fn $name(api: State<'_, Gantry>, $($arg: $ty),*) -> ApiResult<$out> {
            api.$name($($arg),*).await
        }
    };
    (@one stream $name:ident ($($arg:ident : $ty:ty),*) -> $item:ty) => {
        #[tauri::command(rename_all = "snake_case")]
        pub async fn $name(api: State<'_, Gantry>, $($arg: $ty,)* channel: Channel<StreamMsg<$item>>) -> ApiResult<u64> {
            api.$name($($arg,)* sink(channel)).await
        }
    };
}

gantry_core::command_table!(tauri_commands);
