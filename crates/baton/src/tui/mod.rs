//! `baton tui`: the dashboard for a person running many agents.
//!
//! Every state it shows comes from the daemon: a `ps` table first, then the
//! event stream (`events -f` semantics), which changes states as they are
//! written. Output columns (last line, bytes) come from a `ps` once a
//! second while something runs. The selected session's output is followed
//! like `logs -f`. The screen is redrawn only on change, at most 20 times a
//! second, so a burst of thousands of records costs one redraw; it never
//! holds a session up (the daemon drops a reader that falls behind).

pub(crate) mod model;
mod view;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use baton_proto::record::{Event, Record};
use baton_proto::request::{Events, Kill, Logs, SendInput, Via};
use baton_proto::{Request, Response, SessionState};
use ratatui::crossterm::event::{self, Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use crate::exit;
use crate::link::{CallError, DaemonLink};
use model::{Mode, Model};

#[derive(clap::Args, Debug)]
pub struct TuiArgs {
    /// The daemon's control socket [default: $BATON_SOCKET, else
    /// $XDG_RUNTIME_DIR/baton/baton.sock, else .baton/baton.sock].
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
}

/// Shortest time between two redraws.
const FRAME: Duration = Duration::from_millis(50);

/// How often the output columns are refreshed while sessions run.
const TABLE_EVERY: Duration = Duration::from_secs(1);

/// Output a newly selected session's tail starts with.
const TAIL_START: u64 = 16 * 1024;

/// Everything the loop reacts to.
enum Input {
    Key(KeyEvent),
    Resize,
    Table(baton_proto::response::Sessions),
    Record(Box<Record>),
    History(String, Vec<Record>),
    Output(String, Vec<u8>),
    /// A request finished: what to tell the person.
    Said(String),
    DaemonGone(String),
}

pub fn main(args: TuiArgs) -> i32 {
    let socket = match crate::socket::resolve(args.socket.as_deref()) {
        Ok((socket, _)) => socket,
        Err(message) => {
            eprintln!("error: {message}");
            return exit::USAGE;
        }
    };
    let Some(runtime) = crate::link::runtime() else {
        return exit::FAILED;
    };
    let link = Arc::new(DaemonLink::to_running(socket));
    let code = runtime.block_on(run(link));
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}

async fn run(link: Arc<DaemonLink>) -> i32 {
    // Before the terminal is taken: a missing daemon is a plain message.
    let table = match link.ps().await {
        Ok(table) => table,
        Err(CallError::NoDaemon(socket)) => {
            eprintln!(
                "error: no baton daemon listening at {} — start one with `baton daemon` (or pass --socket)",
                socket.display()
            );
            return exit::USAGE;
        }
        Err(e) => {
            eprintln!("error: {}", e.message());
            return exit::PROTOCOL;
        }
    };
    let mut terminal = match ratatui::try_init() {
        Ok(terminal) => terminal,
        Err(e) => {
            eprintln!("error: cannot use this terminal: {e}");
            return exit::USAGE;
        }
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let keys = Keys::start(tx.clone());
    let mut app = App {
        link,
        model: Model::new(),
        tx,
        refresh: Arc::new(Notify::new()),
        tail: None,
        keys,
    };
    let seq = table.seq.unwrap_or(0);
    app.model.table(table.sessions, table.seq);
    app.start_feeds(seq);
    let code = app.run(&mut terminal, rx).await;
    ratatui::restore();
    code
}

/// Reads the keyboard on its own thread; pausable while a tmux attach owns
/// the terminal.
struct Keys {
    paused: Arc<AtomicBool>,
}

impl Keys {
    fn start(tx: mpsc::UnboundedSender<Input>) -> Keys {
        let paused = Arc::new(AtomicBool::new(false));
        let flag = paused.clone();
        std::thread::spawn(move || {
            loop {
                if flag.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                match event::poll(Duration::from_millis(50)) {
                    Ok(false) => continue,
                    Ok(true) => {}
                    Err(_) => return,
                }
                let input = match event::read() {
                    Ok(TermEvent::Key(key)) => Input::Key(key),
                    Ok(TermEvent::Resize(..)) => Input::Resize,
                    Ok(_) => continue,
                    Err(_) => return,
                };
                if tx.send(input).is_err() {
                    return;
                }
            }
        });
        Keys { paused }
    }

    /// Stops reading; returns once no read is under way.
    fn pause(&self) {
        self.paused.store(true, Ordering::Release);
        // A poll in progress ends within its 50 ms.
        std::thread::sleep(Duration::from_millis(80));
    }

    fn resume(&self) {
        self.paused.store(false, Ordering::Release);
    }
}

struct App {
    link: Arc<DaemonLink>,
    model: Model,
    tx: mpsc::UnboundedSender<Input>,
    /// Wakes the table refresher at once.
    refresh: Arc<Notify>,
    /// The follower of the selected session's output, and whose it is.
    tail: Option<(String, JoinHandle<()>)>,
    keys: Keys,
}

/// What a key asks of the loop.
enum Then {
    Go,
    Quit,
    Attach(String),
}

impl App {
    async fn run(
        &mut self,
        terminal: &mut ratatui::DefaultTerminal,
        mut rx: mpsc::UnboundedReceiver<Input>,
    ) -> i32 {
        let mut dirty = true;
        let mut last_draw = tokio::time::Instant::now() - FRAME;
        // Ages are shown to the second: redraw at least that often.
        let mut clock = tokio::time::interval(Duration::from_secs(1));
        clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            if dirty && last_draw.elapsed() >= FRAME {
                if self.model.ring {
                    self.model.ring = false;
                    use std::io::Write;
                    let _ = std::io::stdout().write_all(b"\x07");
                }
                if terminal.draw(|f| view::draw(f, &self.model)).is_err() {
                    return exit::FAILED;
                }
                last_draw = tokio::time::Instant::now();
                dirty = false;
            }
            let next = if dirty {
                // A frame is due: whatever arrives until then is drawn with
                // it, so a burst of records wakes this loop once per frame.
                tokio::time::sleep_until(last_draw + FRAME).await;
                match rx.try_recv() {
                    Ok(next) => Some(next),
                    Err(mpsc::error::TryRecvError::Empty) => continue,
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                }
            } else {
                tokio::select! {
                    next = rx.recv() => next,
                    _ = clock.tick() => {
                        dirty = true;
                        continue;
                    }
                }
            };
            let Some(first) = next else {
                return exit::OK;
            };
            // Take everything already queued: one redraw for a burst.
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            for input in batch {
                match self.apply(input) {
                    Then::Go => {}
                    Then::Quit => return exit::OK,
                    Then::Attach(id) => {
                        if let Err(e) = self.attach(terminal, &id).await {
                            ratatui::restore();
                            eprintln!("error: cannot take the terminal back after tmux: {e}");
                            return exit::FAILED;
                        }
                        let _ = terminal.clear();
                    }
                }
            }
            self.model.settle();
            self.follow_selected();
            dirty = true;
        }
    }

    fn apply(&mut self, input: Input) -> Then {
        match input {
            Input::Key(key) => {
                // Keys act on the list as it is shown.
                self.model.settle();
                return self.key(key);
            }
            Input::Resize => {}
            Input::Table(table) => self.model.table(table.sessions, table.seq),
            Input::Record(record) => {
                if self.model.record(*record) {
                    self.refresh.notify_one();
                }
            }
            Input::History(id, records) => self.model.history(&id, records),
            Input::Output(id, bytes) => self.model.output(&id, &bytes),
            Input::Said(message) => self.model.message = Some(message),
            Input::DaemonGone(why) => self.model.daemon_gone = Some(why),
        }
        Then::Go
    }

    fn key(&mut self, key: KeyEvent) -> Then {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Then::Quit;
        }
        let model = &mut self.model;
        match std::mem::replace(&mut model.mode, Mode::Normal) {
            Mode::Help => {}
            Mode::Filter(mut text) => match key.code {
                KeyCode::Enter => {
                    model.filter = text;
                    model.reorder();
                }
                KeyCode::Esc => {
                    model.filter.clear();
                    model.reorder();
                }
                KeyCode::Backspace => {
                    text.pop();
                    model.mode = Mode::Filter(text);
                }
                KeyCode::Char(c) => {
                    text.push(c);
                    model.mode = Mode::Filter(text);
                }
                _ => model.mode = Mode::Filter(text),
            },
            Mode::Answer { id, mut text } => match key.code {
                KeyCode::Enter => self.send(id, text),
                KeyCode::Esc => model.message = Some("nothing was sent".into()),
                KeyCode::Backspace => {
                    text.pop();
                    model.mode = Mode::Answer { id, text };
                }
                KeyCode::Char(c) => {
                    text.push(c);
                    model.mode = Mode::Answer { id, text };
                }
                _ => model.mode = Mode::Answer { id, text },
            },
            Mode::ConfirmKill(id) => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => self.kill(id),
                _ => model.message = Some(format!("{id} was not killed")),
            },
            Mode::Normal => {
                model.message = None;
                match key.code {
                    KeyCode::Char('q') => return Then::Quit,
                    KeyCode::Down | KeyCode::Char('j') => model.step(1),
                    KeyCode::Up | KeyCode::Char('k') => model.step(-1),
                    KeyCode::PageDown => model.step(20),
                    KeyCode::PageUp => model.step(-20),
                    KeyCode::Home | KeyCode::Char('g') => model.step(-(model.order.len() as isize)),
                    KeyCode::End | KeyCode::Char('G') => model.step(model.order.len() as isize),
                    KeyCode::Char('/') => model.mode = Mode::Filter(model.filter.clone()),
                    KeyCode::Esc => {
                        model.filter.clear();
                        model.reorder();
                    }
                    KeyCode::Enter => model.detail = !model.detail,
                    KeyCode::Char('?') => model.mode = Mode::Help,
                    KeyCode::Char('b') => {
                        model.bell = !model.bell;
                        model.message =
                            Some(format!("bell {}", if model.bell { "on" } else { "off" }));
                    }
                    KeyCode::Char('s') => match model.current() {
                        Some(s) if s.state == SessionState::InputWait => {
                            model.mode = Mode::Answer {
                                id: s.id.clone(),
                                text: String::new(),
                            };
                        }
                        Some(s) => {
                            model.message = Some(format!(
                                "{} is {}, not input_wait: there is no question to answer",
                                s.id, s.state
                            ));
                        }
                        None => {}
                    },
                    KeyCode::Char('K') => match model.current() {
                        Some(s) if s.state.is_terminal() => {
                            model.message =
                                Some(format!("{} has already ended ({})", s.id, s.state));
                        }
                        Some(s) => model.mode = Mode::ConfirmKill(s.id.clone()),
                        None => {}
                    },
                    KeyCode::Char('a') => {
                        if let Some(s) = model.current() {
                            return Then::Attach(s.id.clone());
                        }
                    }
                    _ => {}
                }
            }
        }
        Then::Go
    }

    /// The event stream and the table refresher, for the daemon's life.
    fn start_feeds(&self, since: u64) {
        let (link, tx) = (self.link.clone(), self.tx.clone());
        tokio::spawn(async move {
            let request = Request::Events(Events {
                session: None,
                since: Some(since),
                follow: true,
            });
            let why = match link.open(&request).await {
                Ok(mut stream) => loop {
                    match stream.next().await {
                        Ok(Response::Event(event)) => {
                            if tx.send(Input::Record(Box::new(event.record))).is_err() {
                                return;
                            }
                        }
                        // Records were lost to this reader: the table has them.
                        Ok(Response::SkippedEvents(_)) => {
                            if let Ok(table) = link.ps().await {
                                let _ = tx.send(Input::Table(table));
                            }
                        }
                        Ok(Response::EndOfStream(_)) => break "the daemon stopped".to_owned(),
                        Ok(other) => break format!("the daemon sent `{}`", other.reply()),
                        Err(e) => break format!("lost the daemon: {}", e.message()),
                    }
                },
                Err(e) => format!("lost the daemon: {}", e.message()),
            };
            let _ = tx.send(Input::DaemonGone(why));
        });
        let (link, tx, refresh) = (self.link.clone(), self.tx.clone(), self.refresh.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(TABLE_EVERY) => {}
                    () = refresh.notified() => {}
                }
                match link.ps().await {
                    Ok(table) => {
                        let live = table.sessions.iter().any(|s| !s.state.is_terminal());
                        if tx.send(Input::Table(table)).is_err() {
                            return;
                        }
                        if !live {
                            // Nothing runs: only a new session changes output
                            // (ages go on by themselves).
                            refresh.notified().await;
                        }
                    }
                    Err(_) => return,
                }
            }
        });
    }

    /// Follows the selected session's output while the detail pane is open.
    fn follow_selected(&mut self) {
        let want = self.model.selected.clone().filter(|_| self.model.detail);
        if self.tail.as_ref().map(|(id, _)| id) == want.as_ref() {
            return;
        }
        if let Some((_, task)) = self.tail.take() {
            task.abort();
        }
        let Some(id) = want else {
            return;
        };
        let (link, tx) = (self.link.clone(), self.tx.clone());
        let who = id.clone();
        let task = tokio::spawn(async move {
            let history = Request::Events(Events {
                session: Some(who.clone()),
                since: None,
                follow: false,
            });
            if let Ok(mut stream) = link.open(&history).await {
                let mut records = Vec::new();
                while let Ok(Response::Event(event)) = stream.next().await {
                    records.push(event.record);
                }
                let _ = tx.send(Input::History(who.clone(), records));
            }
            let request = Request::Logs(Logs {
                id: who.clone(),
                tail_bytes: Some(TAIL_START),
                follow: true,
                ..Logs::default()
            });
            let Ok(mut stream) = link.open(&request).await else {
                return;
            };
            loop {
                match stream.next().await {
                    Ok(Response::LogChunk(chunk)) => {
                        if let Ok(bytes) = chunk.bytes()
                            && tx.send(Input::Output(who.clone(), bytes)).is_err()
                        {
                            return;
                        }
                    }
                    // Fell behind: the daemon moved us to recent output.
                    Ok(Response::Skipped(_)) => {}
                    _ => return,
                }
            }
        });
        self.tail = Some((id, task));
    }

    fn send(&self, id: String, text: String) {
        let (link, tx) = (self.link.clone(), self.tx.clone());
        tokio::spawn(async move {
            let request = Request::Send(SendInput {
                id: id.clone(),
                text,
                if_waiting: true,
                via: Via::Tui,
            });
            let said = match link.call(&request).await {
                Ok(Response::Done(_)) => format!("answered {id}"),
                Ok(other) => format!("the daemon sent `{}`", other.reply()),
                Err(e) => format!("not sent: {}", e.message()),
            };
            let _ = tx.send(Input::Said(said));
        });
    }

    fn kill(&self, id: String) {
        let (link, tx) = (self.link.clone(), self.tx.clone());
        let _ = tx.send(Input::Said(format!("killing {id}…")));
        tokio::spawn(async move {
            let request = Request::Kill(Kill {
                id: id.clone(),
                via: Via::Tui,
            });
            let said = match link.call(&request).await {
                Ok(Response::Done(_)) => format!("killed {id}: its processes are gone"),
                Ok(other) => format!("the daemon sent `{}`", other.reply()),
                Err(e) => format!("not killed: {}", e.message()),
            };
            let _ = tx.send(Input::Said(said));
        });
    }

    /// Hands the terminal to `tmux attach` for a local tmux session, and
    /// takes it back when the person detaches.
    /// Fails only when the terminal cannot be taken back afterwards.
    async fn attach(
        &mut self,
        terminal: &mut ratatui::DefaultTerminal,
        id: &str,
    ) -> std::io::Result<()> {
        let target = match tmux_target(&self.link, id).await {
            Ok(target) => target,
            Err(why) => {
                self.model.message = Some(why);
                return Ok(());
            }
        };
        self.keys.pause();
        ratatui::restore();
        let status = tokio::task::spawn_blocking(move || {
            std::process::Command::new("tmux")
                .args(["-L", &target.server, "attach-session", "-t"])
                .arg(format!("={}", target.session))
                .env_remove("TMUX")
                .status()
        })
        .await;
        *terminal = ratatui::try_init()?;
        self.keys.resume();
        self.model.message = Some(match status {
            Ok(Ok(s)) if s.success() => format!("detached from {id}"),
            Ok(Ok(s)) => format!("tmux attach to {id} ended with {s}"),
            Ok(Err(e)) => format!("cannot run tmux: {e}"),
            Err(e) => format!("cannot run tmux: {e}"),
        });
        Ok(())
    }
}

/// The tmux server and session of a local tmux-backed session, from its
/// last `spawn` record; or why it cannot be attached.
async fn tmux_target(
    link: &DaemonLink,
    id: &str,
) -> Result<baton_proto::record::TmuxTarget, String> {
    let request = Request::Events(Events {
        session: Some(id.to_owned()),
        since: None,
        follow: false,
    });
    let mut stream = link.open(&request).await.map_err(|e| e.message())?;
    let mut target = None;
    let mut host = None;
    loop {
        match stream.next().await {
            Ok(Response::Event(event)) => {
                if let Event::Spawn { tmux, host: on, .. } = event.record.event {
                    target = tmux;
                    host = on;
                }
            }
            Ok(_) => break,
            Err(e) => return Err(e.message()),
        }
    }
    match (target, host) {
        (Some(_), Some(host)) => Err(format!(
            "{id} runs on {host}: attach there with `ssh -t {host} tmux attach`"
        )),
        (Some(target), None) => Ok(target),
        (None, _) => Err(format!(
            "{id} does not run in tmux: only backend = \"tmux\" sessions can be attached"
        )),
    }
}
