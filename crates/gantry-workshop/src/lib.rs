//! Gantry's workshops: run a Docker workshop with no internet.
//!
//! - [`pack`]: one bundle file with the labs, the images they need for each platform asked
//!   for (layers shared between images stored once), the trainer's suggested settings and a
//!   manifest with a digest for every part, optionally signed ([`sign`]);
//! - [`import`]: verify every digest, load the images into the engine and install the labs,
//!   offline, resumable, refusing a corrupt or truncated bundle with nothing half-imported;
//! - [`bundle`]: the file format and its reader;
//! - [`room`]: the trainer's room server (registry, live grid of participants × steps, commands)
//!   and the participant's side; [`follow`]: the participant's Gantry carrying out the commands.
//!
//! docs/workshops.md is the trainer's guide.

pub mod bundle;
pub mod digest;
mod error;
pub mod follow;
pub mod import;
pub mod labs;
pub mod manifest;
pub mod oci;
pub mod pack;
pub mod preflight;
pub mod room;
pub mod sign;
pub mod tarhead;

pub use bundle::Bundle;
pub use digest::Digest;
pub use error::{Result, WorkshopError};
pub use import::{ImportEvent, ImportOptions, ImportReport, ImportedImage, import, imported, workshops_dir};
pub use manifest::{Manifest, SettingsDefaults};
pub use oci::Platform;
pub use pack::{ImageRequest, PackEvent, PackReport, PackSpec, pack};
pub use sign::{PublicKey, SigningKey, write_key_pair};
