//! The `softphone` binary: parses `key=value` parameters and runs the engine. `--headless`
//! prints engine events as notification lines on stdout (logs go to stderr).

use softphone::config::Settings;
use softphone::config::params::help_text;
use softphone::engine::{Command, Event, run_engine};
use std::process::ExitCode;
use tokio::sync::mpsc;

fn init_logging(loglevel: i64) {
    let level = match loglevel {
        0 => "error",
        1 => "warn",
        2 | 3 => "info",
        4 | 5 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("softphone={level},sip={level}"))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Waits for Ctrl-C or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{}", help_text());
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--readme-table") {
        print!("{}", softphone::config::params::readme_table());
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--devices") {
        let (inputs, outputs) = softphone::audio::device::list_devices();
        println!("Microphones (recorddevice):\n  Default");
        for d in inputs {
            println!("  {d}");
        }
        println!("Speakers (playbackdevice):\n  Default");
        for d in outputs {
            println!("  {d}");
        }
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--version") {
        println!("softphone {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let headless = args.iter().any(|a| a == "--headless");
    if let Some(flag) = args
        .iter()
        .find(|a| a.starts_with("--") && *a != "--headless")
    {
        eprintln!("softphone: unknown option {flag}; see --help");
        return ExitCode::from(2);
    }
    let mut settings = Settings::default();
    let errors = settings.apply_args(
        args.iter()
            .filter(|a| !a.starts_with("--"))
            .map(String::as_str),
    );
    init_logging(settings.int("loglevel"));
    for e in &errors {
        println!(
            "{}",
            Event::Warning(e.to_string())
                .to_notification()
                .unwrap_or_default()
        );
    }
    if !headless {
        eprintln!(
            "softphone: this build has no desktop window yet; run it with --headless \
             (see --help for the parameters)"
        );
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("softphone: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
        let engine = tokio::spawn(run_engine(settings, cmd_rx, ev_tx));
        // Commands on standard input, one per line (`Call,1002`, `Dtmf,1,123#`, `Hangup,1`,
        // `Exit`); a bad line gets a WARNING and is otherwise ignored. End of input only stops
        // the reading.
        let stdin_tx = cmd_tx.clone();
        tokio::spawn(async move {
            use tokio::io::AsyncBufReadExt;
            let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.trim().is_empty() {
                    continue;
                }
                match Command::parse_line(&line) {
                    Ok(cmd) => {
                        if stdin_tx.send(cmd).is_err() {
                            return;
                        }
                    }
                    Err(e) => println!(
                        "{}",
                        Event::Warning(e).to_notification().unwrap_or_default()
                    ),
                }
            }
        });
        let signals = tokio::spawn(async move {
            stop_signal().await;
            let _ = cmd_tx.send(Command::Exit);
            // A second signal while unregistering exits at once.
            stop_signal().await;
            std::process::exit(130);
        });
        while let Some(ev) = ev_rx.recv().await {
            if let Some(line) = ev.to_notification() {
                println!("{line}");
            }
            if ev == Event::Stopped {
                break;
            }
        }
        signals.abort();
        match engine.await {
            Ok(Ok(())) => ExitCode::SUCCESS,
            _ => ExitCode::FAILURE,
        }
    });
    // The stdin reader sits in a blocking read that nothing can interrupt: do not wait for it.
    runtime.shutdown_background();
    code
}
