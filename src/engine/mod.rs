//! The engine: the driver that owns sockets and timers, the command/event API every face uses,
//! and the setup that turns settings into a resolved UA configuration.

mod calls;
mod cdr;
pub mod driver;
pub mod event;
pub mod level;
pub mod media;
mod ring;
mod runtime_settings;
pub mod setup;

pub use driver::run_engine;
pub use event::{Cdr, Command, DiscParty, Event};
