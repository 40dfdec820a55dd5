//! The `softphone` binary: parses `key=value` parameters and runs the engine. `--headless`
//! prints engine events on stdout, as the reference's notification lines or, with
//! `--format=json`, as one JSON event per line (logs go to stderr), and reads commands on
//! stdin (text lines such as `Call,1002`, or JSON objects).

use softphone::api::notify::Notifier;
use softphone::config::Settings;
use softphone::config::params::help_text;
use softphone::engine::{CommandSender, start_engine};
use softphone::model::{Command, Event, NoticeKind};
use std::process::ExitCode;

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
    let info = |t: String| Event::info(NoticeKind::Keyring, t);
    let warning = |t: String| Event::warning(NoticeKind::Keyring, t);
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
            Ok(()) => notes.push(info(format!(
                "clearcfg: the remembered password of {account} is forgotten"
            ))),
            Err(e) => notes.push(warning(format!("clearcfg: {e}"))),
        }
        return notes;
    }
    match settings.secret("password") {
        Some(pw) if settings.bool("savepassword") => match secrets::save(&account, pw.expose()) {
            Ok(()) => notes.push(info(format!(
                "the password of {account} is saved in the keyring"
            ))),
            Err(e) => notes.push(warning(format!("{e}: the password stays in memory only"))),
        },
        Some(_) => {}
        None => match secrets::load(&account) {
            Ok(Some(pw)) => {
                if let Err(e) = settings.set_from("password", &pw, Source::Keyring) {
                    notes.push(warning(format!("keyring: {e}")));
                }
            }
            Ok(None) => {}
            Err(e) => notes.push(warning(format!(
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

/// Opens `softphone.db` for a command-line query, or says why not.
fn open_store(
    dirs: Option<&directories::ProjectDirs>,
) -> Result<softphone::store::Store, ExitCode> {
    let Some(d) = dirs else {
        eprintln!("softphone: no data folder (no home directory)");
        return Err(ExitCode::FAILURE);
    };
    let path = d.data_dir().join("softphone.db");
    softphone::store::Store::open(&path).map_err(|e| {
        eprintln!("softphone: {}: {e}", path.display());
        ExitCode::FAILURE
    })
}

/// Runs a command-line query on the store: its failure is printed and exits 1.
fn store_command(
    dirs: Option<&directories::ProjectDirs>,
    query: impl FnOnce(&softphone::store::Store) -> Result<(), String>,
) -> ExitCode {
    let store = match open_store(dirs) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match query(&store) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("softphone: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `softphone --api-token[=new]`: prints the control API's token (made on first use), or
/// replaces it with a new one.
fn api_token_command(dirs: Option<&directories::ProjectDirs>, new: bool) -> ExitCode {
    use softphone::api::control::token;
    let Some(d) = dirs else {
        eprintln!("softphone: no data folder for the API token");
        return ExitCode::FAILURE;
    };
    let made = if new {
        token::regenerate(d.data_dir())
    } else {
        token::load_or_create(d.data_dir())
    };
    match made {
        Ok(t) => {
            println!("{t}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "softphone: {}: {e}",
                token::token_path(d.data_dir()).display()
            );
            ExitCode::FAILURE
        }
    }
}

/// Whether a clicked link handed to this instance waits for a click (`linkconfirm`).
fn link_confirm(settings: &Settings, window: bool) -> softphone::api::control::Confirm {
    softphone::api::control::Confirm::wanted(settings.bool("linkconfirm"), window)
}

/// The control API's configuration (none when it is off), with warnings about it.
fn api_config(
    settings: &Settings,
    dirs: Option<&directories::ProjectDirs>,
    window: bool,
) -> (Option<softphone::api::control::ApiConfig>, Vec<Event>) {
    match softphone::api::control::ApiConfig::from_settings(
        settings,
        dirs.map(|d| d.data_dir()),
        window,
    ) {
        Ok((config, warnings)) => (
            config,
            warnings
                .into_iter()
                .map(|w| Event::warning(NoticeKind::Parameter, w))
                .collect(),
        ),
        Err(e) => (None, vec![Event::warning(NoticeKind::Engine, e)]),
    }
}

/// The control API's starting picture: the effective parameters (secrets masked) and the
/// call history the face loaded.
fn api_state(
    settings: &Settings,
    history: Vec<softphone::model::Cdr>,
) -> softphone::model::PhoneState {
    softphone::model::PhoneState::new(
        settings
            .effective()
            .into_iter()
            .map(|(k, v, _)| (k.to_string(), v))
            .collect(),
        history,
    )
}

/// Starts the control API (inside the engine's runtime); the hub to feed with every event
/// and what to tell the user about it.
fn start_api(
    config: Option<softphone::api::control::ApiConfig>,
    commands: &CommandSender,
    state: softphone::model::PhoneState,
) -> (Option<softphone::api::control::Hub>, Option<Event>) {
    use softphone::api::control::{Hub, start};
    let Some(config) = config else {
        return (None, None);
    };
    let port = config.tcp_port;
    let hub = Hub::new(commands.clone(), state);
    match start(config, hub.clone()) {
        Ok(server) => {
            let at: Vec<String> = server
                .tcp
                .iter()
                .map(|a| format!("http://{a}"))
                .chain(server.udp.iter().map(|a| format!("udp://{a}")))
                .collect();
            (
                Some(hub),
                Some(Event::info(
                    NoticeKind::Engine,
                    format!("Control API listening on {}", at.join(" ")),
                )),
            )
        }
        Err(e) => (
            None,
            Some(Event::warning(
                NoticeKind::Engine,
                format!("Control API: cannot listen on port {port}: {e}; it is off this run"),
            )),
        ),
    }
}

/// `softphone --history`: the latest calls, newest first.
fn history_command(store: &softphone::store::Store) -> Result<(), String> {
    let calls = store.recent_calls(100).map_err(|e| e.to_string())?;
    if calls.is_empty() {
        println!("no calls yet");
    }
    for c in calls {
        println!("{}", softphone::store::history_line(&c));
    }
    Ok(())
}

/// `softphone --chat PEER`: the latest messages with `PEER`, oldest first (`>` ours, `<`
/// theirs).
fn chat_command(store: &softphone::store::Store, peer: &str) -> Result<(), String> {
    let messages = store
        .chat_with(softphone::model::user_of(peer), 200)
        .map_err(|e| e.to_string())?;
    if messages.is_empty() {
        println!("no messages with {peer}");
    }
    for m in messages {
        let arrow = if m.outgoing { '>' } else { '<' };
        println!(
            "{} {arrow} {}",
            softphone::store::format_utc(m.at_ms),
            m.text
        );
    }
    Ok(())
}

/// The contact file format a path's extension names.
fn contact_format(path: &str) -> Result<softphone::model::ContactFormat, String> {
    softphone::model::ContactFormat::from_file_name(path)
        .ok_or_else(|| format!("{path}: name a .vcf or a .csv file"))
}

/// `softphone --import-contacts FILE.vcf|FILE.csv`: adds the file's contacts to the address
/// book (updating those already there), and says what was skipped.
fn import_contacts_command(store: &softphone::store::Store, path: &str) -> Result<(), String> {
    let format = contact_format(path)?;
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let text = String::from_utf8_lossy(&bytes);
    let parsed = softphone::store::exchange::import(format, &text)?;
    let outcome = store
        .import_contacts(&parsed.contacts)
        .map_err(|e| e.to_string())?;
    for p in &parsed.problems {
        eprintln!("{path}: {p}");
    }
    println!(
        "{} contacts added, {} updated, {} skipped",
        outcome.added,
        outcome.updated,
        parsed.problems.len()
    );
    Ok(())
}

/// `softphone --export-contacts FILE.vcf|FILE.csv`: writes the address book.
fn export_contacts_command(store: &softphone::store::Store, path: &str) -> Result<(), String> {
    let format = contact_format(path)?;
    let contacts = store.contacts().map_err(|e| e.to_string())?;
    let text = softphone::store::exchange::export(format, &contacts);
    std::fs::write(path, text).map_err(|e| format!("{path}: {e}"))?;
    println!("{} contacts written to {path}", contacts.len());
    Ok(())
}

/// How headless mode writes events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// The reference's notification lines.
    Text,
    /// One JSON event per line.
    Json,
}

/// Standard output of headless mode: each event as its notification lines or as JSON.
struct Console {
    format: Format,
    notifier: Notifier,
}

impl Console {
    fn print(&mut self, ev: &Event) {
        match self.format {
            Format::Text => {
                for line in self.notifier.lines(ev) {
                    println!("{line}");
                }
            }
            Format::Json => println!("{}", softphone::api::json::event_line(ev)),
        }
    }
}

/// Commands on standard input, one per line: a text command (`Call,1002`, `Dtmf,1,123#`,
/// `Hangup,1`, `Exit`) or a JSON object (`{"type":"call","number":"1002"}`). A bad line is
/// answered with a warning and otherwise ignored; end of input only stops the reading.
async fn read_commands(
    commands: CommandSender,
    bad_lines: tokio::sync::mpsc::UnboundedSender<Event>,
) {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        let request = if softphone::api::json::is_json(&line) {
            softphone::api::json::parse_request(&line, || commands.next_id())
        } else {
            softphone::api::lines::parse_line(&line).map(|command| softphone::model::Request {
                id: commands.next_id(),
                command,
            })
        };
        match request {
            Ok(r) => {
                if !commands.send_request(r) {
                    return;
                }
            }
            Err(e) => {
                let _ = bad_lines.send(Event::warning(NoticeKind::Input, e));
            }
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{}", help_text());
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--json-examples") {
        print!("{}", softphone::api::json::json_examples());
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--api-table") {
        print!("{}", softphone::api::control::verbs::readme_table());
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
    if let Some(a) = args.iter().find(|a| a.starts_with("--api-token")) {
        return api_token_command(dirs.as_ref(), a == "--api-token=new");
    }
    if args.iter().any(|a| a == "--history") {
        return store_command(dirs.as_ref(), history_command);
    }
    // `--chat PEER`, `--import-contacts FILE`, `--export-contacts FILE`.
    for flag in ["--chat", "--import-contacts", "--export-contacts"] {
        let Some(i) = args.iter().position(|a| a == flag) else {
            continue;
        };
        let Some(arg) = args.get(i + 1).cloned() else {
            eprintln!("softphone: {flag} needs its argument (see --help)");
            return ExitCode::from(2);
        };
        return store_command(dirs.as_ref(), |store| match flag {
            "--chat" => chat_command(store, &arg),
            "--import-contacts" => import_contacts_command(store, &arg),
            _ => export_contacts_command(store, &arg),
        });
    }
    let headless = args.iter().any(|a| a == "--headless");
    let show_config = args.iter().any(|a| a == "--show-config");
    let format = match args.iter().find_map(|a| a.strip_prefix("--format=")) {
        None | Some("text") => Format::Text,
        Some("json") => Format::Json,
        Some(other) => {
            eprintln!("softphone: --format={other}: text or json");
            return ExitCode::from(2);
        }
    };
    if let Some(flag) = args.iter().find(|a| {
        a.starts_with("--")
            && *a != "--headless"
            && *a != "--show-config"
            && !a.starts_with("--format=")
    }) {
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
            Ok(()) => Event::info(
                NoticeKind::Parameter,
                format!(
                    "clearcfg: the saved settings ({}) are removed",
                    file.path().display()
                ),
            ),
            Err(e) => Event::warning(NoticeKind::Parameter, format!("clearcfg: {e}")),
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
        let mut notifier = Notifier::new();
        for line in keyring_events.iter().flat_map(|e| notifier.lines(e)) {
            eprintln!("{line}");
        }
        for (name, value, source) in settings.effective() {
            println!("{name:<18} = {value:<24} ({})", source.label());
        }
        return ExitCode::SUCCESS;
    }
    let notes: Vec<Event> = warnings
        .into_iter()
        .map(|w| Event::warning(NoticeKind::Parameter, w))
        .chain(keyring_events)
        .collect();
    let trace = init_logging(settings.int("loglevel"), !headless);
    let mut console = Console {
        format,
        notifier: Notifier::new(),
    };
    for n in &notes {
        console.print(n);
    }
    // Single instance: a running softphone takes this launch's words (a clicked link).
    #[cfg(unix)]
    let instance = dirs
        .as_ref()
        .filter(|_| settings.bool("singleinstance"))
        .map(|d| softphone::api::instance::socket_path(d.data_dir()));
    #[cfg(unix)]
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
                console.print(&Event::warning(
                    NoticeKind::History,
                    format!(
                        "{}: {e}; the call history is not kept this run",
                        path.display()
                    ),
                ))
            })
            .ok()
    });
    if !headless {
        let history = store
            .as_ref()
            .and_then(|s| s.recent_calls(500).ok())
            .unwrap_or_default();
        let skins = dirs.as_ref().map(|d| d.config_dir().join("skins"));
        let mut notifier = Notifier::new();
        let log: Vec<String> = notes.iter().flat_map(|e| notifier.lines(e)).collect();
        #[cfg(unix)]
        let listen_at = instance.clone();
        let (api, mut api_notes) = api_config(&settings, dirs.as_ref(), true);
        let link_confirm = link_confirm(&settings, true);
        let api_state = api_state(&settings, history.clone());
        let token = api.as_ref().map(|c| c.token.clone());
        let start = softphone::gui::WindowStart {
            history,
            skins_dir: skins,
            notes: log,
            trace,
            api_token: token,
        };
        let result = softphone::gui::run_window(settings, store, start, move |tx| {
            #[cfg(unix)]
            if let Some(path) = &listen_at
                && let Err(e) = softphone::api::instance::listen(path, tx.clone(), link_confirm)
            {
                tracing::warn!("single instance: {e}");
            }
            #[cfg(not(unix))]
            let _ = link_confirm;
            let (hub, note) = start_api(api, tx, api_state);
            api_notes.extend(note);
            softphone::gui::EngineExtras {
                notes: api_notes,
                tap: hub.map(|h| Box::new(move |ev: &Event| h.publish(ev)) as _),
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
    let (api, api_notes) = api_config(&settings, dirs.as_ref(), false);
    let link_confirm = link_confirm(&settings, false);
    for n in &api_notes {
        console.print(n);
    }
    let api_state = api_state(&settings, Vec::new());
    let code = runtime.block_on(async move {
        let (commands, mut events, engine) = start_engine(settings, store);
        let (hub, api_note) = start_api(api, &commands, api_state);
        if let Some(n) = &api_note {
            console.print(n);
        }
        #[cfg(unix)]
        if let Some(path) = &instance
            && let Err(e) = softphone::api::instance::listen(path, commands.clone(), link_confirm)
        {
            console.print(&Event::warning(
                NoticeKind::Engine,
                format!("single instance: {e}"),
            ));
        }
        #[cfg(not(unix))]
        let _ = link_confirm;
        let (bad_tx, mut bad_lines) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(read_commands(commands.clone(), bad_tx));
        let signals = tokio::spawn(async move {
            stop_signal().await;
            commands.send(Command::Exit);
            // A second signal while unregistering exits at once.
            stop_signal().await;
            std::process::exit(130);
        });
        loop {
            tokio::select! {
                ev = events.recv() => {
                    let Some(ev) = ev else { break };
                    if let Some(hub) = &hub {
                        hub.publish(&ev);
                    }
                    console.print(&ev);
                    if ev == Event::Stopped {
                        break;
                    }
                }
                Some(bad) = bad_lines.recv() => console.print(&bad),
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
