//! Drawing the model: header with counts, the session list, the detail
//! pane, and the footer (keys, the input box, or a message).

use baton_proto::SessionState;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};

use super::model::{Mode, Model};
use crate::render::{describe_record, truncate};

/// The keys, as the footer and the help show them.
pub const KEYS: &[(&str, &str)] = &[
    ("↑/↓ j/k", "select"),
    (
        "/",
        "filter by id, agent, state or capability (Enter applies, Esc clears)",
    ),
    ("Enter", "toggle the detail pane (output, events, payload)"),
    ("s", "answer the selected session (only in input_wait)"),
    ("K", "kill the selected session (asks first)"),
    (
        "a",
        "attach to a tmux session (detach with C-b d to come back)",
    ),
    ("b", "bell on a new input_wait: on/off"),
    ("?", "this help"),
    ("q", "quit"),
];

fn state_style(state: SessionState) -> Style {
    let style = Style::default();
    match state {
        SessionState::InputWait => style
            .fg(Color::Black)
            .bg(Color::Yellow)
            .add_modifier(Modifier::BOLD),
        SessionState::Dead => style
            .fg(Color::White)
            .bg(Color::Red)
            .add_modifier(Modifier::BOLD),
        SessionState::Failed | SessionState::Restarting => style.fg(Color::Red),
        SessionState::Stalled => style.fg(Color::Magenta),
        SessionState::Healthy => style.fg(Color::Green),
        SessionState::Completed => style.fg(Color::Cyan),
        SessionState::Init | SessionState::Starting => style.fg(Color::Blue),
    }
}

fn age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s / 60) % 60),
    }
}

/// What a session's agent reported using: its cost where the CLI states
/// one, else its tokens; nothing where it reports nothing.
fn used(usage: Option<&baton_proto::Usage>) -> String {
    usage
        .map(|u| u.cost_text().unwrap_or_else(|| u.tokens_text()))
        .unwrap_or_default()
}

fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n}B"),
        1024..1_048_576 => format!("{:.1}K", n as f64 / 1024.0),
        _ => format!("{:.1}M", n as f64 / 1_048_576.0),
    }
}

pub fn draw(frame: &mut Frame, model: &Model) {
    let area = frame.area();
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, header, model);
    if model.detail {
        let [list, detail] =
            Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(body);
        draw_list(frame, list, model);
        draw_detail(frame, detail, model);
    } else {
        draw_list(frame, body, model);
    }
    draw_footer(frame, footer, model);
    if model.mode == Mode::Help {
        draw_help(frame, area);
    }
}

fn draw_header(frame: &mut Frame, area: Rect, model: &Model) {
    let mut spans = vec![Span::styled(
        format!(" baton · {} sessions ", model.sessions.len()),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    for (state, n) in model.counts() {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(format!("{n} {state}"), state_style(state)));
    }
    // What every session's agent reported using, together; a cost is
    // what the CLIs stated or `[pricing]` estimated (`~`), so say so when
    // some sessions have none.
    let used: Vec<baton_proto::Usage> = model.sessions.values().filter_map(|s| s.usage).collect();
    if let Some(total) = used.iter().copied().reduce(baton_proto::Usage::plus) {
        let priced = used.iter().filter(|u| u.cost_usd.is_some()).count();
        let cost = match total.cost_text() {
            Some(c) if priced < used.len() => format!(", {c} ({priced} of {} priced)", used.len()),
            Some(c) => format!(", {c}"),
            None => String::new(),
        };
        spans.push(Span::raw(format!(
            "   used {} tokens{cost}",
            total.tokens_text()
        )));
    }
    if !model.filter.is_empty() {
        spans.push(Span::raw(format!(
            "   filter: {} ({} shown)",
            model.filter,
            model.order.len()
        )));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_list(frame: &mut Frame, area: Rect, model: &Model) {
    let block = Block::default().borders(Borders::TOP);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // Only the rows that fit are built, so a thousand sessions cost what
    // a screenful does.
    let visible = inner.height.saturating_sub(1) as usize;
    let at = model.position().unwrap_or(0);
    let first = at.saturating_sub(visible.saturating_sub(1));
    let rows: Vec<Row> = model
        .order
        .iter()
        .skip(first)
        .take(visible)
        .filter_map(|id| model.sessions.get(id))
        .map(|s| {
            let what = match (&s.evidence, s.state) {
                (Some(question), SessionState::InputWait) => format!("asks: {question}"),
                (_, SessionState::Dead) => s
                    .message
                    .clone()
                    .or_else(|| s.evidence.clone())
                    .unwrap_or_default(),
                _ => s.last_line.clone().unwrap_or_default(),
            };
            let style = if model.selected.as_deref() == Some(s.id.as_str()) {
                Style::default().add_modifier(Modifier::REVERSED)
            } else {
                Style::default()
            };
            Row::new(vec![
                Cell::from(s.id.clone()),
                Cell::from(s.agent.clone()),
                Cell::from(s.host.clone()),
                Cell::from(s.backend.clone()),
                Cell::from(Span::styled(s.state.as_str(), state_style(s.state))),
                Cell::from(s.reason.clone()),
                Cell::from(s.restarts.to_string()),
                Cell::from(age(model.age_ms(s))),
                Cell::from(bytes(s.out_bytes + s.err_bytes)),
                Cell::from(used(s.usage.as_ref())),
                Cell::from(truncate(&what, 200)),
            ])
            .style(style)
        })
        .collect();
    let widths = [
        Constraint::Length(16),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(10),
        Constraint::Length(20),
        Constraint::Length(3),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Fill(1),
    ];
    let header = Row::new([
        "ID",
        "AGENT",
        "HOST",
        "BACKEND",
        "STATE",
        "WHY",
        "RS",
        "AGE",
        "BYTES",
        "USED",
        "LAST OUTPUT",
    ])
    .style(Style::default().add_modifier(Modifier::BOLD));
    let table = Table::new(rows, widths).header(header).column_spacing(1);
    frame.render_widget(table, inner);
    if model.order.is_empty() {
        let text = if model.sessions.is_empty() {
            "no sessions yet: `baton spawn` or a lead's MCP `spawn` starts one"
        } else {
            "no session matches the filter (Esc clears it)"
        };
        let empty = Rect {
            y: inner.y + 1,
            height: 1,
            ..inner
        };
        frame.render_widget(Paragraph::new(text), empty);
    }
}

fn draw_detail(frame: &mut Frame, area: Rect, model: &Model) {
    let Some(s) = model.current() else {
        return;
    };
    let title = format!(" {} · {} ({}) ", s.id, s.state, s.reason);
    let [output, side] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
    let lines: Vec<Line> = match &model.tail {
        // The tail as a terminal the size of the pane shows it: escapes,
        // redraws and scrolling as the agent meant them.
        Some((who, tail)) if who == &s.id => {
            let rows = output.height.saturating_sub(2).max(1);
            let cols = output.width.saturating_sub(2).max(1);
            let screen = baton_monitor::screen::screen_of(tail, rows, cols);
            screen
                .text()
                .lines()
                .map(|l| Line::from(l.to_owned()))
                .collect()
        }
        _ => vec![Line::from("(no output yet)")],
    };
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(title)
                .title_style(state_style(s.state)),
        ),
        output,
    );
    let mut facts: Vec<Line> = Vec::new();
    if let Some(evidence) = &s.evidence {
        facts.push(Line::from(format!("evidence: {evidence}")));
    }
    if let Some(hooks) = s.hooks {
        let said = match hooks {
            baton_proto::HooksState::Silent => "silent: judged by its screen",
            baton_proto::HooksState::Reporting => "reporting",
            baton_proto::HooksState::Expected => "installed, not heard yet",
        };
        facts.push(Line::from(format!("hooks: {said}")));
    }
    if let Some(message) = &s.message {
        facts.push(Line::from(format!("message: {message}")));
    }
    if let Some(payload) = &s.payload {
        facts.push(Line::from(format!("payload: {payload}")));
    }
    if let Some(wt) = &s.worktree {
        let mut line = format!("worktree: {} on {} ({}", wt.path, wt.branch, wt.state);
        if let Some(reason) = &wt.reason {
            line.push_str(&format!(": {reason}"));
        }
        line.push(')');
        if let Some(end) = &wt.end {
            line.push_str(&format!(", {}", crate::render::work_done(end)));
        }
        facts.push(Line::from(line));
    }
    match (s.exit_code, s.exit_signal) {
        (Some(code), _) => facts.push(Line::from(format!("exit code {code}"))),
        (_, Some(signal)) => facts.push(Line::from(format!("killed by signal {signal}"))),
        _ => {}
    }
    if let Some(recent) = model.recent.get(&s.id) {
        let room = (side.height.saturating_sub(2) as usize).saturating_sub(facts.len());
        let start = recent.len().saturating_sub(room);
        for record in recent.iter().skip(start) {
            if let Some(line) = describe_record(record) {
                // The id is the pane's; the time and the text are the news.
                let text = line.replacen(&format!(" {:<16} ", s.id), " ", 1);
                facts.push(Line::from(text));
            }
        }
    }
    frame.render_widget(
        Paragraph::new(facts)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(" events ")),
        side,
    );
}

fn draw_footer(frame: &mut Frame, area: Rect, model: &Model) {
    let line = match &model.mode {
        Mode::Filter(text) => Line::from(vec![
            Span::styled(" filter: ", Style::default().add_modifier(Modifier::BOLD)),
            Span::raw(format!("{text}▏")),
            Span::raw("   Enter applies · Esc clears"),
        ]),
        Mode::Answer { id, text } => Line::from(vec![
            Span::styled(
                format!(" answer {id}: "),
                Style::default().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!("{text}▏")),
            Span::raw("   Enter sends · Esc cancels"),
        ]),
        Mode::ConfirmKill(id) => Line::from(Span::styled(
            format!(" kill {id}? its processes are stopped for good. y / n "),
            Style::default().fg(Color::White).bg(Color::Red),
        )),
        Mode::Normal | Mode::Help => match (&model.daemon_gone, &model.message) {
            (Some(why), _) => Line::from(Span::styled(
                format!(" {why} — q quits"),
                Style::default().fg(Color::White).bg(Color::Red),
            )),
            (None, Some(message)) => Line::from(format!(" {message}")),
            (None, None) => Line::from(format!(
                " j/k select · / filter · Enter detail · s answer · K kill · a attach · b bell {} · ? help · q quit",
                if model.bell { "on" } else { "off" }
            )),
        },
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn draw_help(frame: &mut Frame, area: Rect) {
    let width = area.width.min(84);
    let height = (KEYS.len() as u16 + 4).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| Line::from(format!(" {key:<9} {what}")))
        .chain([Line::from(""), Line::from(" any key closes this")])
        .collect();
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" keys ")),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::tui::model::tests::row;

    fn screen(model: &Model, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| draw(frame, model)).unwrap();
        let buffer = terminal.backend().buffer();
        (0..height)
            .map(|y| {
                (0..width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
                    .trim_end()
                    .to_owned()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn sample() -> Model {
        use SessionState::*;
        let mut asking = row("fix-tests", InputWait);
        asking.agent = "claude".into();
        asking.backend = "tmux".into();
        asking.reason = "input_wait:yes_no".into();
        asking.evidence = Some("Apply this edit to src/lib.rs? (y/n)".into());
        asking.usage = Some(baton_proto::Usage {
            input_tokens: 1500,
            output_tokens: 340,
            cached_tokens: 5000,
            cost_usd: Some(0.0425),
            cost_estimated: false,
        });
        asking.worktree = Some(baton_proto::SessionWorktree {
            path: "/src/app.baton-worktrees/fix-tests".into(),
            branch: "baton/fix-tests".into(),
            state: "live".into(),
            reason: None,
            end: None,
        });
        let mut dead = row("docs-2", Dead);
        dead.reason = "crash".into();
        dead.restarts = 3;
        dead.message = Some("gave up after 3 restarts".into());
        let mut done = row("docs-1", Completed);
        done.agent = "codex".into();
        done.reason = "exit_0".into();
        done.payload = Some(serde_json::json!({"files": 3}));
        done.usage = Some(baton_proto::Usage {
            input_tokens: 9000,
            output_tokens: 2100,
            cached_tokens: 0,
            cost_usd: None,
            cost_estimated: false,
        });
        let mut model = Model::new();
        model.table(
            vec![
                row("bench", Healthy),
                done,
                dead,
                asking,
                row("lint", Stalled),
            ],
            Some(42),
        );
        model
    }

    #[test]
    fn the_dashboard_layout() {
        insta::assert_snapshot!("list", screen(&sample(), 120, 12));
        let mut model = sample();
        model.detail = true;
        model.output(
            "fix-tests",
            b"planning\n\x1b[32mediting src/lib.rs\x1b[0m\nApply this edit to src/lib.rs? (y/n) ",
        );
        insta::assert_snapshot!("detail", screen(&model, 120, 20));
        model.mode = Mode::Answer {
            id: "fix-tests".into(),
            text: "y".into(),
        };
        let answering = screen(&model, 120, 20);
        assert!(
            answering
                .lines()
                .last()
                .unwrap()
                .contains("answer fix-tests: y"),
            "{answering}"
        );
        model.mode = Mode::Help;
        let help = screen(&model, 120, 20);
        assert!(
            help.contains("keys") && help.contains("attach to a tmux session"),
            "{help}"
        );
    }

    #[test]
    fn the_output_pane_shows_what_a_terminal_would() {
        let mut model = sample();
        model.detail = true;
        model.output(
            "fix-tests",
            b"\x1b[1;32mgreen\x1b[0m text\r\nprogress 10%\rprogress 99%\n\x1b]0;title\x07plain\n\x07bell",
        );
        let text = screen(&model, 120, 20);
        for shown in ["green text", "progress 99%", "plain", "bell"] {
            assert!(text.contains(shown), "{shown:?} missing:\n{text}");
        }
        for gone in ["progress 10%", "title", "[1;32m"] {
            assert!(!text.contains(gone), "{gone:?} shown:\n{text}");
        }
    }

    #[test]
    fn a_thousand_rows_draw_only_what_fits() {
        let mut model = Model::new();
        model.table(
            (0..1000)
                .map(|i| row(&format!("w{i:04}"), SessionState::Healthy))
                .collect(),
            None,
        );
        model.step(500);
        let text = screen(&model, 120, 20);
        assert!(text.contains("w0500"), "{text}");
        assert!(!text.contains("w0000"), "{text}");
        assert!(text.lines().next().unwrap().contains("1000 sessions"));
    }
}
