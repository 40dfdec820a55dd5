//! The `softphone` binary: parses `key=value` parameters and runs the engine. `--headless`
//! prints engine events as notification lines on stdout (logs go to stderr).

use softphone::config::Settings;
use softphone::config::params::help_text;
use softphone::engine::{Command, Event, run_engine};
use std::process::ExitCode;
use tokio::sync::mpsc;

/// Logs go to standard error; with a window and `loglevel` 4 or more the SIP trace also goes
/// to the window's log (the returned handle and lines are for it).
fn init_logging(
    loglevel: i64,
    window: bool,
) -> Option<(
    std::sync::Arc<std::sync::OnceLock<egui::Context>>,
    std::sync::mpsc::Receiver<String>,
)> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
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
    let (layer, trace) = if window && loglevel >= 4 {
        let repaint = std::sync::Arc::new(std::sync::OnceLock::new());
        let (layer, rx) = softphone::gui::trace::sip_trace(repaint.clone());
        (Some(layer), Some((repaint, rx)))
    } else {
        (None, None)
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(layer)
        .init();
    trace
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

/// The keyring: `clearcfg` forgets the account's password (and the remembered signalling
/// port), `savepassword` stores a given password, and with no password given a remembered one
/// is used. Gives what the user should hear (a missing keyring service is said once; the
/// password then stays in memory only).
fn keyring_step(settings: &mut Settings) -> Vec<Event> {
    use softphone::config::{Source, secrets};
    let (user, server) = (settings.text("username"), settings.text("serveraddress"));
    if user.is_empty() || server.is_empty() {
        return Vec::new();
    }
    let account = secrets::account(&user, &server);
    let mut notes = Vec::new();
    if settings.bool("clearcfg") {
        if let Some(d) = directories::ProjectDirs::from("", "", "softphone") {
            let _ = std::fs::remove_file(d.config_dir().join("signalingport"));
        }

        match secrets::delete(&account) {
            Ok(()) => notes.push(Event::Info(format!(
                "clearcfg: the remembered password of {account} is forgotten"
            ))),
            Err(e) => notes.push(Event::Warning(format!("clearcfg: {e}"))),
        }
        return notes;
    }
    match settings.secret("password") {
        Some(pw) if settings.bool("savepassword") => match secrets::save(&account, pw.expose()) {
            Ok(()) => notes.push(Event::Info(format!(
                "the password of {account} is saved in the keyring"
            ))),
            Err(e) => notes.push(Event::Warning(format!(
                "{e}: the password stays in memory only"
            ))),
        },
        Some(_) => {}
        None => match secrets::load(&account) {
            Ok(Some(pw)) => {
                if let Err(e) = settings.set_from("password", &pw, Source::Keyring) {
                    notes.push(Event::Warning(format!("keyring: {e}")));
                }
            }
            Ok(None) => {}
            Err(e) => notes.push(Event::Warning(format!(
                "{e}: no remembered password for {account}"
            ))),
        },
    }
    notes
}

/// Reads `wpcfg.ini` beside the binary, then in the config folder; gives the warnings (bad
/// lines, bad values) with the file and line.
fn load_ini_files(settings: &mut Settings, config_dir: Option<&std::path::Path>) -> Vec<String> {
    use softphone::config::{Source, ini};
    let mut warnings = Vec::new();
    for path in ini::ini_locations(config_dir) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let (pairs, problems) = ini::parse_ini(&text);
        for p in problems {
            warnings.push(format!(
                "{} line {}: {:?} is not key=value",
                path.display(),
                p.line,
                p.text
            ));
        }
        for (k, v) in pairs {
            if let Err(e) = settings.set_from(&k, &v, Source::IniFile) {
                warnings.push(format!("{}: {e}", path.display()));
            }
        }
    }
    warnings
}

/// `softphone --encrypt N VALUE`: prints VALUE as an `encrypted__N__` parameter value.
fn encrypt_command(rest: &[String], key: Option<&[u8]>) -> ExitCode {
    let (Some(n), Some(value)) = (rest.first(), rest.get(1)) else {
        eprintln!("usage: softphone --encrypt N VALUE   (N: 1 xor, 3 xor+base64, 4 base64)");
        return ExitCode::from(2);
    };
    let Ok(n) = n.parse::<u8>() else {
        eprintln!("softphone: --encrypt: {n:?} is not 1, 3 or 4");
        return ExitCode::from(2);
    };
    match softphone::config::encrypted::encode(n, value, key) {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("softphone: {e}");
            ExitCode::from(2)
        }
    }
}

/// `softphone --history`: the latest calls, newest first.
fn history_command(dirs: Option<&directories::ProjectDirs>) -> ExitCode {
    let Some(d) = dirs else {
        eprintln!("softphone: no data folder (no home directory)");
        return ExitCode::FAILURE;
    };
    let path = d.data_dir().join("softphone.db");
    match softphone::store::Store::open(&path).and_then(|s| s.recent_calls(100)) {
        Ok(calls) if calls.is_empty() => println!("no calls yet"),
        Ok(calls) => {
            for c in calls {
                println!("{}", softphone::store::history_line(&c));
            }
        }
        Err(e) => {
            eprintln!("softphone: {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
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
    let dirs = directories::ProjectDirs::from("", "", "softphone");
    let key = dirs
        .as_ref()
        .and_then(|d| softphone::config::encrypted::install_key(d.data_dir()).ok());
    if let Some(i) = args.iter().position(|a| a == "--encrypt") {
        return encrypt_command(&args[i + 1..], key.as_deref());
    }
    if args.iter().any(|a| a == "--history") {
        return history_command(dirs.as_ref());
    }
    let headless = args.iter().any(|a| a == "--headless");
    let show_config = args.iter().any(|a| a == "--show-config");
    if let Some(flag) = args
        .iter()
        .find(|a| a.starts_with("--") && *a != "--headless" && *a != "--show-config")
    {
        eprintln!("softphone: unknown option {flag}; see --help");
        return ExitCode::from(2);
    }
    let mut settings = key.map(Settings::with_key).unwrap_or_default();
    let mut warnings = load_ini_files(&mut settings, dirs.as_ref().map(|d| d.config_dir()));
    if let Some(d) = &dirs {
        let file = softphone::config::persisted::SettingsFile::in_dir(d.config_dir());
        warnings.extend(file.load_into(&mut settings));
        settings.use_file(file);
    }
    let words: Vec<String> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .flat_map(|a| softphone::config::link_to_params(a).unwrap_or_else(|| vec![a.clone()]))
        .collect();
    warnings.extend(
        settings
            .apply_args(words.iter().map(String::as_str))
            .into_iter()
            .map(|e| e.to_string()),
    );
    let mut keyring_events = Vec::new();
    if settings.bool("clearcfg")
        && let Some(file) = settings.file()
    {
        keyring_events.push(match file.remove() {
            Ok(()) => Event::Info(format!(
                "clearcfg: the saved settings ({}) are removed",
                file.path().display()
            )),
            Err(e) => Event::Warning(format!("clearcfg: {e}")),
        });
        settings.forget(softphone::config::Source::Persisted);
    }
    keyring_events.extend(keyring_step(&mut settings));
    for name in settings.not_acted_on() {
        warnings.push(format!(
            "{name} is not implemented in this build yet; its value does nothing"
        ));
    }
    if show_config {
        for w in &warnings {
            eprintln!("warning: {w}");
        }
        for e in &keyring_events {
            if let Some(line) = e.to_notification() {
                eprintln!("{line}");
            }
        }
        for (name, value, source) in settings.effective() {
            println!("{name:<18} = {value:<24} ({})", source.label());
        }
        return ExitCode::SUCCESS;
    }
    let trace = init_logging(settings.int("loglevel"), !headless);
    let notes: Vec<String> = warnings
        .into_iter()
        .map(Event::Warning)
        .chain(keyring_events)
        .filter_map(|e| e.to_notification())
        .collect();
    for n in &notes {
        println!("{n}");
    }
    // Single instance: a running softphone takes this launch's words (a clicked link).
    let instance = dirs
        .as_ref()
        .filter(|_| settings.bool("singleinstance"))
        .map(|d| softphone::api::instance::socket_path(d.data_dir()));
    if let Some(path) = &instance {
        use softphone::api::instance::{Handover, hand_over};
        match hand_over(path, &args) {
            Ok(Handover::Delivered(reply)) => {
                println!("{reply}");
                return ExitCode::SUCCESS;
            }
            Ok(Handover::NoInstance) => {}
            Err(e) => eprintln!("softphone: cannot reach the running softphone: {e}"),
        }
    }
    // History, contacts and chat; without it calls still work, they are just not kept.
    let store = dirs.as_ref().and_then(|d| {
        let path = d.data_dir().join("softphone.db");
        softphone::store::Store::open(&path)
            .map_err(|e| {
                println!(
                    "{}",
                    Event::Warning(format!(
                        "{}: {e}; the call history is not kept this run",
                        path.display()
                    ))
                    .to_notification()
                    .unwrap_or_default()
                )
            })
            .ok()
    });
    if !headless {
        let history = store
            .as_ref()
            .and_then(|s| s.recent_calls(500).ok())
            .unwrap_or_default();
        let skins = dirs.as_ref().map(|d| d.config_dir().join("skins"));
        let listen_at = instance.clone();
        let result =
            softphone::gui::run_window(settings, store, history, skins, notes, trace, move |tx| {
                if let Some(path) = &listen_at
                    && let Err(e) = softphone::api::instance::listen(path, tx.clone())
                {
                    tracing::warn!("single instance: {e}");
                }
            });
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("softphone: {e:#}; run with --headless to use it without a window");
                ExitCode::FAILURE
            }
        };
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
        if let Some(path) = &instance
            && let Err(e) = softphone::api::instance::listen(path, cmd_tx.clone())
        {
            println!(
                "{}",
                Event::Warning(format!("single instance: {e}"))
                    .to_notification()
                    .unwrap_or_default()
            );
        }
        let engine = tokio::spawn(run_engine(settings, store, cmd_rx, ev_tx));
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
