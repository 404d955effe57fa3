//! One module per subcommand group. Each has its clap argument types and a
//! `run(args, &Globals) -> anyhow::Result<ExitCode>`; `main.rs` wires them in.
//! To add a command (`sync`, `init`, `demo`): add a module here, a variant to
//! `Command` in `main.rs`, and one match arm.

pub mod demo;
pub mod init;
pub mod jit;
pub mod log;
pub mod outbox;
pub mod query;
pub mod report;
pub mod request;
pub mod review;
pub mod sim;
pub mod sync;

/// The acting person of `request` and `review` commands.
#[derive(Debug, clap::Args, Clone)]
pub struct Acting {
    /// Who is acting: an account id or email (a stand-in until sign-in)
    #[arg(long = "as", value_name = "ACCOUNT")]
    pub(crate) actor: String,
}
