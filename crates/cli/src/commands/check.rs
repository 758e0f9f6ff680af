//! `rocmforge check`: the op conformance suite. Runs every case of the
//! parity table on the chosen backend and on the CPU oracle and prints one
//! line per case and a summary; exits non-zero if a case fails.

use clap::Args;
use rocmforge_backend_api::loader;
use rocmforge_conformance::{cases, check, Outcome};

#[derive(Args)]
pub struct CheckArgs {
    /// Only cases of this op (e.g. `matmul`, `rms_norm`).
    #[arg(long)]
    filter: Option<String>,
}

pub fn run(a: CheckArgs, backend: Option<&str>) -> anyhow::Result<()> {
    let spec = backend.ok_or_else(|| anyhow::anyhow!("check needs --backend NAME|PATH (the backend to test)"))?;
    let dev = loader::load(spec)?;
    let oracle = loader::load("cpu")?;
    eprintln!("checking {} ({}) against the cpu oracle", dev.name(), dev.device_info()?.name);
    let (mut pass, mut fail, mut unsupported) = (0, 0, 0);
    for case in cases::all() {
        if a.filter.as_deref().is_some_and(|f| f != case.op.name()) {
            continue;
        }
        let line = match check(&dev, &oracle, &case) {
            Outcome::Pass { nmse } => {
                pass += 1;
                format!("nmse {nmse:9.2e}  pass")
            }
            Outcome::Fail { nmse, reason } => {
                fail += 1;
                format!("nmse {nmse:9.2e}  FAIL  {reason}")
            }
            Outcome::Unsupported => {
                unsupported += 1;
                format!("{:>14}  unsupported", "")
            }
        };
        println!("{:<11} {:<52} {line}", case.op.name(), case.label);
    }
    println!("{pass} passed, {fail} failed, {unsupported} unsupported");
    anyhow::ensure!(pass + fail + unsupported > 0, "no case matches --filter");
    anyhow::ensure!(fail == 0, "{fail} case(s) failed");
    Ok(())
}
