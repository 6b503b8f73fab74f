use super::*;

fn det(input: &str) -> Option<(String, String)> {
    InputWaitDetector::builtin()
        .detect(input.as_bytes())
        .map(|d| (d.rule, d.line))
}

#[test]
fn detects_prompts() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "Compiling...\nContinue? [Y/n] ",
            "yes_no",
            "Continue? [Y/n]",
        ),
        ("Proceed (y/n)? ", "yes_no", "Proceed (y/n)?"),
        (
            "Overwrite? (y/N) [default: N]: ",
            "yes_no",
            "Overwrite? (y/N) [default: N]:",
        ),
        (
            "Need to install the following packages:\ncreate-vite@5.0.0\nOk to proceed? (y) ",
            "yes_no",
            "Ok to proceed? (y)",
        ),
        (
            "(1/1) Stage this hunk [y,n,q,a,d,e,?]? ",
            "yes_no",
            "(1/1) Stage this hunk [y,n,q,a,d,e,?]?",
        ),
        (
            "Do you want to continue? [Y/n]\n",
            "yes_no",
            "Do you want to continue? [Y/n]",
        ),
        (
            "[sudo] password for alice: ",
            "password",
            "[sudo] password for alice:",
        ),
        (
            "Enter passphrase for key '/home/u/.ssh/id_ed25519': ",
            "password",
            "Enter passphrase for key '/home/u/.ssh/id_ed25519':",
        ),
        (
            "Password for 'https://u@github.com': ",
            "password",
            "Password for 'https://u@github.com':",
        ),
        (
            "package name: (my-app) ",
            "default_value",
            "package name: (my-app)",
        ),
        (
            "Project name (default: foo): ",
            "default_value",
            "Project name (default: foo):",
        ),
        (
            "Do you want to make this edit to main.rs?\n❯ 1. Yes\n  2. Yes, allow all edits during this session (shift+tab)\n  3. No, and tell Claude what to do differently (esc)\n",
            "choice_menu",
            "Do you want to make this edit to main.rs?",
        ),
        (
            "? Which template would you like to use? (Use arrow keys)\n❯ react\n  vue\n  svelte",
            "choice_menu",
            "? Which template would you like to use? (Use arrow keys)",
        ),
        (
            "Pick one\n> Yes\n  No\nEnter to confirm · Esc to cancel",
            "choice_menu",
            "> Yes",
        ),
        (
            "Which approach should I take?\n1. Rewrite the parser\n2. Patch the lexer\n",
            "choice_menu",
            "Which approach should I take?",
        ),
        (
            "Would you like me to also add tests?\n",
            "do_you_want",
            "Would you like me to also add tests?",
        ),
        (
            "│ Do you want to proceed? │\n",
            "do_you_want",
            "Do you want to proceed?",
        ),
        (
            "Allow execution of: 'rm'?\n",
            "allow",
            "Allow execution of: 'rm'?",
        ),
        (
            "Press Enter to continue...",
            "press_enter",
            "Press Enter to continue...",
        ),
        (
            "Install complete.\nPress any key to exit\n",
            "press_enter",
            "Press any key to exit",
        ),
        (
            "Overwrite existing file? ",
            "question_prompt",
            "Overwrite existing file?",
        ),
        (
            "? Which template would you like to use? ›",
            "question_prompt",
            "? Which template would you like to use? ›",
        ),
        (
            "? Project name: › vite-project",
            "question_prompt",
            "? Project name: › vite-project",
        ),
        (
            "\x1b[1mWhat is your name?\x1b[0m ",
            "question_prompt",
            "What is your name?",
        ),
        (
            "Only 'yes' will be accepted.\n\n  Enter a value: ",
            "text_prompt",
            "Enter a value:",
        ),
        ("login: ", "text_prompt", "login:"),
        (
            "question name (my-app): ",
            "default_value",
            "question name (my-app):",
        ),
        (
            "Pick a target?\n  1) server\n  2) worker\n#? ",
            "choice_menu",
            "Pick a target?",
        ),
        // A field named in a few words, the cursor after its colon.
        (
            "GnuPG needs to construct a user ID to identify your key.\n\nReal name: ",
            "field_prompt",
            "Real name:",
        ),
        // A value offered in the field, the cursor after it.
        ("Branch name: main", "field_prompt", "Branch name: main"),
        // A question the cursor sits after, whatever its words.
        (
            "rm: descend into directory 'dir'? ",
            "question_prompt",
            "rm: descend into directory 'dir'?",
        ),
        // inquirer's `?` mark leads a question the cursor is on.
        (
            "? Project name (my-app)",
            "question_prompt",
            "? Project name (my-app)",
        ),
        // A check-box menu, its keys named without "to".
        (
            "? Which features?\n❯◯ TypeScript\n ◯ ESLint\n ◯ Vitest\n\n↑↓ navigate • space select • ⏎ submit",
            "choice_menu",
            "? Which features?",
        ),
        // A default offered after the question mark.
        (
            "Would you like to configure as much as possible automatically? [yes] ",
            "question_prompt",
            "Would you like to configure as much as possible automatically? [yes]",
        ),
        // questionary's `»` cursor.
        (
            "? Pick a region (Use arrow keys)\n » eu-west-1\n   us-east-1\n   ap-south-1",
            "choice_menu",
            "? Pick a region (Use arrow keys)",
        ),
        // Check boxes, one ticked, under inquirer's question.
        (
            "? What do you want to lint? …\n◉ JavaScript\n◯ JSON\n◯ Markdown\n◯ CSS",
            "choice_menu",
            "? What do you want to lint? …",
        ),
        // A full-screen dialog: its buttons, and what it says above them.
        (
            "┌──| Reset |──┐\n│ Reset the database?   │\n│  <   Yes    > <    No    >  │\n└───┘\n",
            "choice_bar",
            "Reset the database?",
        ),
        (
            "│ Pick a region │\n│ (*) Europe │\n│ ( ) United States │\n│ <    Ok    > <  Cancel  > │\n└──┘\n",
            "choice_bar",
            "( ) United States",
        ),
        // A clack form closed under its active field, its words not asking.
        (
            "┌\n Create-Solid v0.12.0\n│\n◆  Project Name\n│  solid-project\n└\n",
            "question_prompt",
            "◆  Project Name",
        ),
        // A question over its field, the cursor in the field.
        (
            "   dir   Where should we create your new project?\n         ./my-react-router-app",
            "question_prompt",
            "dir   Where should we create your new project?",
        ),
        (
            "    Updating crates.io index\nplease paste the token found on https://crates.io/me below\n",
            "paste_request",
            "please paste the token found on https://crates.io/me below",
        ),
    ];
    for (input, rule, line) in cases {
        assert_eq!(
            det(input),
            Some((rule.to_string(), line.to_string())),
            "input {input:?}"
        );
    }
}

#[test]
fn ignores_look_alikes() {
    let cases: &[&str] = &[
        "",
        "\n\n",
        "I wonder whether we should refactor this? Let me check the tests.\n",
        "Should we refactor this?\nLet me look at the tests first.\n",
        "Ready to proceed with the refactor.\n",
        "Please confirm the change looks right in the diff above.\n",
        "  </div>\n</body>\n",
        "fn f() -> Vec<String>",
        "<!-- comment -->",
        "2026-01-01T00:00:00Z INFO should we retry?\n",
        "[INFO] Do you want to see more logs?\n",
        "test foo::bar ... ok\ntest result: ok. 1 passed\n",
        "error[E0308]: mismatched types\n  --> src/main.rs:2:5\n",
        "warning: unused variable: `x`\n",
        "✻ Thinking… (12s · esc to interrupt)\n",
        "• Working (12s • esc to interrupt)",
        "Do you want to proceed?\n✶ Pondering… (3s · esc to interrupt)\n",
        "## What is next?\n",
        "- Should we cache this?\n",
        "See https://example.com/search?q=what\n",
        "Changes:\n1. Added tests\n2. Fixed bug\n",
        "I did this:\n1. Added tests\n2. Fixed bug\nAll done, anything else?\n",
        "> app@1.0.0 build\n> tsc\n",
        "● Done. The fix is in place.\n  ⎿  Updated src/lib.rs\n",
        "What does this function return?\n",
        "Overwrite existing file?\n",
        "Enter a value: done\n",
        "Running suite (unit):\n",
        "Select the files below:\n",
        "Name: demo\nVersion: 1.0\n",
        // Status lines the cursor stays on while work goes on.
        "Resolving deltas: ",
        "Resolving deltas: 100%",
        "Elapsed time: 3.2s",
        "Status: ok\n",
        "Doing sha256 for 2s on 256 size blocks: ",
        "Receiving objects:  45% (450/1000)",
        // Ready for a command, not asking: a shell, an interpreter, a
        // debugger at its prompt, and a pager.
        "user@host:~/proj$ ",
        ">>> ",
        "sqlite> ",
        "(Pdb) ",
        "(END)",
        "Paste the output here.\nThen it continues.\n",
        // Ticked boxes only, or boxes under no question: a report.
        "What is done?\n☑ parser\n☑ lexer\n",
        "Checklist\n[x] tests\n[ ] docs\n",
        // A boot log's status, markup: not a dialog's buttons.
        "[  OK  ] Started Journal Service.\n[  OK  ] Reached target Basic System.\n",
        "<div> <span>\n",
        "◆  Building the project\n│  step 3 of 9\n",
    ];
    for input in cases {
        assert_eq!(det(input), None, "input {input:?}");
    }
}

#[test]
fn user_rules_come_first() {
    let d = InputWaitDetector::with_extra(vec![Rule {
        name: "custom".into(),
        pattern: Regex::new(r"^READY>$").expect("valid"),
    }]);
    assert_eq!(d.rule_names()[0], "custom");
    assert_eq!(d.rule_names().len(), BUILTIN.len() + 1);
    let got = d.detect(b"booting\nREADY>\n");
    assert_eq!(got.map(|g| g.rule), Some("custom".to_string()));
    assert_eq!(
        InputWaitDetector::builtin().detect(b"booting\nREADY>\n"),
        None
    );
    assert_eq!(InputWaitDetector::default().rule_names(), BUILTIN.to_vec());
}

/// Asserts each `(input, Some((rule, line)))` / `(input, None)` case.
fn check(cases: &[(&str, Option<(&str, &str)>)]) {
    for (input, want) in cases {
        let want = want.map(|(r, l)| (r.to_string(), l.to_string()));
        assert_eq!(det(input), want, "input {input:?}");
    }
}

#[test]
fn frame_drawing_is_decoration() {
    let lines: &[(&str, &str)] = &[
        ("│ Do you want to proceed? │", "Do you want to proceed?"),
        ("│ │ 1 - import x;      │   │", "1 - import x;"),
        ("╰──────────────────╯", ""),
        ("├────┼────┤", ""),
        ("  │      │  ", ""),
        ("▌ Yes   No", "Yes   No"),
        ("█ Continue?", "Continue?"),
        ("│   ├── main.rs", "main.rs"),
        ("└ Read package.json", "Read package.json"),
        ("a │ b", "a │ b"),
    ];
    for (line, want) in lines {
        assert_eq!(clean_line(line), *want, "line {line:?}");
    }
    check(&[
        // A menu drawn in a coloured box, its border and a hint below it,
        // under a URL line that looks like an option.
        (
            "\x1b[33m╭────────╮\x1b[39m\n│ Do you trust this folder? │\n│ https://docs.example.com/security │\n│ \x1b[36m❯ 1. Yes, proceed\x1b[39m │\n│   2. No, exit │\n│          │\n\x1b[33m╰────────╯\x1b[39m\n   Enter to confirm · Esc to exit\n",
            Some(("choice_menu", "❯ 1. Yes, proceed")),
        ),
        // Nested boxes: the inner box's sides are peeled too.
        (
            "╭──────╮\n│ ╭──╮ │\n│ │ Do you want to proceed? │ │\n│ ╰──╯ │\n╰──────╯\n",
            Some(("do_you_want", "Do you want to proceed?")),
        ),
        // A block gutter.
        (
            "▌Allow command `rm -rf build`?\n▌\n",
            Some(("allow", "Allow command `rm -rf build`?")),
        ),
        ("█ Continue? [Y/n] ", Some(("yes_no", "Continue? [Y/n]"))),
        // A numbered list under prose, nothing marked, no question: text.
        (
            "See https://example.com/docs\n1. Added tests\n2. Fixed bug\n",
            None,
        ),
        // A markdown table drawn with box characters, followed by prose.
        (
            "Should we keep these defaults?\n┌──────────┬─────────┐\n│ Option   │ Default │\n├──────────┼─────────┤\n│ Yes      │ No      │\n│ Continue │ Abort   │\n└──────────┴─────────┘\nThese are the current defaults.\n",
            None,
        ),
        // The same table as the last thing on screen.
        (
            "Should we keep these defaults?\n┌──────────┬─────────┐\n│ Yes      │ No      │\n└──────────┴─────────┘\n",
            None,
        ),
        // A `tree` listing, even under a question.
        (
            "What does the layout look like?\n.\n├── Cargo.toml\n├── src\n│   ├── main.rs\n│   └── lib.rs\n└── README.md\n",
            None,
        ),
        (
            "Which files changed?\n├── 1. intro.md\n└── 2. setup.md\n\n3 files, 0 directories\n",
            None,
        ),
    ]);
}

#[test]
fn hints_and_status_footers_do_not_hide_a_prompt() {
    check(&[
        (
            "╭──────╮\n│ Apply this change? │\n│ ● 1. Yes, allow once │\n│   2. No, suggest changes (esc) │\n╰──────╯\n\n~/src/api (main*)   no sandbox (see /docs)   gemini-2.5-pro (96% context left)",
            Some(("choice_menu", "Apply this change?")),
        ),
        (
            "Do you want to proceed?\n❯ 1. Yes\n  2. No\nEnter to confirm · Esc to exit\n  ? for shortcuts\n",
            Some(("choice_menu", "Do you want to proceed?")),
        ),
        (
            "Would you like me to run the migration?\n  ? for shortcuts\n",
            Some(("do_you_want", "Would you like me to run the migration?")),
        ),
        // A spinner inside a box keeps vetoing, footer or not.
        (
            "Do you want to proceed?\n╭──────╮\n│ ✶ Pondering… (3s · esc to interrupt) │\n╰──────╯\n  ? for shortcuts\n",
            None,
        ),
        (
            "Do you want to proceed?\n│ ⠋ Working (5s • esc to interrupt) │\n",
            None,
        ),
        // gemini's spinner ("esc to cancel, 13s") is activity, not a hint.
        (
            "Apply this change?\n⠋ Generating... (esc to cancel, 13s)\n~/src  no sandbox  gemini-2.5-pro (96% context left)",
            None,
        ),
        (
            "Do you want to proceed?\n✻ Thinking… (12s · esc to interrupt)\n╭────╮\n│ >  │\n╰────╯\n  ? for shortcuts\n~/src  no sandbox  (90% context left)\n",
            None,
        ),
        // An idle input box under a finished answer: its `>` is content.
        (
            "● All tests pass.\n╭────╮\n│ >  │\n╰────╯\n  ? for shortcuts\n",
            None,
        ),
    ]);
}

#[test]
fn choices_laid_out_in_less_common_shapes() {
    check(&[
        // terminal-kit's yes/no: choices parted by a bar.
        (
            "Do you like this library? [Y|n]\n",
            Some(("yes_no", "Do you like this library? [Y|n]")),
        ),
        // console-menu: options numbered `1 - …` over its `>>`.
        (
            "Choose what to do\n\n    1 - Back up the database\n    2 - Restore a backup\n    3 - Exit\n>>",
            Some(("choice_menu", "1 - Back up the database")),
        ),
        // enquirer's scale: a row of radio buttons per statement.
        (
            "? Please rate your experience\n                1    2    3\nFriendly.   ◯ ───◉ ───◯\nEasy.       ◯ ───◉ ───◯\n",
            Some(("choice_bar", "Easy.       ◯ ───◉ ───◯")),
        ),
        // inquirer's checkbox, its hint on its question line.
        (
            "? Choose which packages to update. (Press <space> to select, <a> to toggle all, <i> to invert selection)\n Minor Update New backwards-compatible features.\n❯◯ left-pad  1.0.0  ❯  1.3.0\n Space to select. Enter to start upgrading. Control-C to cancel.\n",
            Some((
                "answer_hint",
                "? Choose which packages to update. (Press <space> to select, <a> to toggle all, <i> to invert selection)",
            )),
        ),
        // Status dots are no scale: states, several of them lit.
        ("api ● worker ● cron ○ mail ○\n", None),
        // urwid's menu of buttons padded to the list's width, the focused
        // one marked (from its colour, by the screen).
        (
            "Pythons\n\n❯ < Chapman              >\n  < Cleese               >\n  < Gilliam              >\n",
            Some(("choice_menu", "❯ < Chapman              >")),
        ),
        // Buttons side by side are a bar, not options.
        (
            "Pythons\n\n< Chapman > < Cleese >\n< Idle > < Palin >\n",
            None,
        ),
        // cleo's choice: options numbered in brackets from 0, a bare `>`.
        (
            "Which database driver should be used? [postgres]:\n  [ 0] postgres\n  [ 1] mysql\n  [ 2] sqlite\n  > ",
            Some(("choice_menu", "[ 0] postgres")),
        ),
        // `node inspect`: its source listing marks the current line, under
        // it the debugger's own prompt — no menu.
        (
            "Break on start in [eval]:1\n> 1 1+1\n  2 let x = 2\ndebug> ",
            None,
        ),
        // A menu's own input line in lower case still is one.
        (
            "Sizes:\n1) small\n2) large\nchoice> ",
            Some(("choice_menu", "1) small")),
        ),
    ]);
}

#[test]
fn a_notice_under_a_prompt_does_not_hide_it() {
    check(&[
        // gemini's permission dialog on a terminal without true colour: its
        // warning, wrapped, under the box.
        (
            "│ Allow execution of [Shell]? │\n│ ● 1. Allow once │\n│   2. Allow for this session │\n│   3. No, suggest changes (esc) │\n╰────╯\n⚠  Warning: True color (24-bit) support not detected. Using a terminal with true color enabled will result in a better\n   visual experience.\n",
            Some(("choice_menu", "Allow execution of [Shell]?")),
        ),
        (
            "Overwrite config.toml? [y/N]\nNote: a backup is kept in config.toml.bak\n",
            Some(("yes_no", "Overwrite config.toml? [y/N]")),
        ),
        // A notice that asks is the question.
        (
            "Removing 3 volumes.\nWarning: this cannot be undone. Continue? [y/N] ",
            Some(("yes_no", "Warning: this cannot be undone. Continue? [y/N]")),
        ),
        // A notice alone is no question, nor is what stands above it.
        ("Compiled 12 files.\nwarning: unused variable `x`\n", None),
    ]);
}

#[test]
fn horizontal_option_bar() {
    check(&[
        (
            "• Explored\n  └ Read package.json\n\n▌\x1b[1mRun the following command?\x1b[22m\n▌\n▌Reason: deps are missing\n▌\n▌$ pnpm install --frozen-lockfile\n▌\n▌\x1b[7m Yes \x1b[27m  Always   No   No, provide feedback\n▌ Approve and run the command\n",
            Some(("choice_bar", "Run the following command?")),
        ),
        (
            "Apply these edits to 3 files?\n\n  [ Apply ]  [ Cancel ]",
            Some(("choice_bar", "Apply these edits to 3 files?")),
        ),
        (
            "Allow network access for this session?\n\nAllow  Deny\n",
            Some(("choice_bar", "Allow network access for this session?")),
        ),
        // "Yes  No" in narrative prose, no question above.
        (
            "The flag takes one of two values:\nYes  No\nThe default is No.\n",
            None,
        ),
        (
            "Do you want to proceed?\nYes  No are the only accepted answers here.\n",
            None,
        ),
        // The question is too far above the bar.
        (
            "Run the following command?\n1\n2\n3\n4\n5\n6\n7\n8\n9\nYes  No\n",
            None,
        ),
        // The bar is too far from the end.
        ("Run it?\nYes  No\nline one\nline two\nline three\n", None),
        // No item declines, or the first item does not accept.
        ("Ready?\nYes  Always\n", None),
        ("Which do you prefer?\nNo  Yes\n", None),
        // A bar-shaped line followed by log output.
        (
            "Any failures?\nApply  0  No  errors\n2026-01-01 12:00:00 Yes  No  done\n",
            None,
        ),
    ]);
}

#[test]
fn credential_prompts() {
    check(&[
        (
            "Cloning into 'billing-service'...\nUsername for 'https://github.com': ",
            Some(("text_prompt", "Username for 'https://github.com':")),
        ),
        (
            "Email for 'registry.npmjs.org': ",
            Some(("text_prompt", "Email for 'registry.npmjs.org':")),
        ),
        ("Username: ", Some(("text_prompt", "Username:"))),
        ("Login: ", Some(("text_prompt", "Login:"))),
        ("Email: ", Some(("text_prompt", "Email:"))),
        // Answered, or the cursor has moved on.
        ("Username for 'https://github.com': alice\n", None),
        ("Username for 'https://github.com':\n", None),
        ("remote: Username for 'https://github.com': ", None),
        ("2026-01-01 12:00:00 Username for 'https://x.dev': ", None),
    ]);
}

#[test]
fn a_menu_over_the_line_its_choice_is_typed_on() {
    check(&[
        // A numbered list and a bare `>` the cursor sits on: no question
        // needed (rustup-init).
        (
            "Current installation options:\n\n1) Proceed with standard installation\n2) Customize installation\n3) Cancel installation\n>",
            Some((CHOICE_MENU, "1) Proceed with standard installation")),
        ),
        // fzf: its list over a count and the prompt typed into.
        (
            "  fix/login\n  dev\n> main\n  3/3 ─────────\nBranch>",
            Some((CHOICE_MENU, "> main")),
        ),
        // A numbered list not starting at 1, or a list the cursor left.
        ("2) Customize installation\n3) Cancel installation\n>", None),
        (
            "1) Proceed with standard installation\n2) Customize installation\n",
            None,
        ),
    ]);
}

#[test]
fn a_ticked_radio_among_empty_ones_is_a_menu() {
    let nuxi = "◆  Which template would you like to use?\n│  ○ content – Content-driven website\n│  ● minimal – Minimal setup (recommended)\n│  ○ module – Nuxt module\n│  ↑/↓ to navigate • Enter: confirm\n└\n";
    check(&[
        (
            nuxi,
            Some((CHOICE_MENU, "◆  Which template would you like to use?")),
        ),
        // Narrative bullets are not radios: no empty one beside them.
        ("What changed?\n● Fixed the parser\n● Added tests\n", None),
    ]);
}

#[test]
fn a_programs_command_prompt_is_not_a_field() {
    for prompt in [
        "Command (m for help): ",
        "Command (? for help): ",
        "In [1]: ",
        "gpg> ",
        "(parted) ",
    ] {
        assert_eq!(det(prompt), None, "{prompt:?}");
    }
    // Words that ask still do ("What now> ", a field).
    assert!(det("*** Commands ***\nWhat now> ").is_some());
    assert!(det("Real name: ").is_some());
}

#[test]
fn the_terminal_confirms_or_demotes_what_the_words_say() {
    use terminal::{Reads, Terminal};
    let d = InputWaitDetector::builtin();
    let term = |reads| Terminal {
        echo: true,
        canonical: true,
        reads,
    };
    let asked = b"Continue? [y/N]\n";
    // A question printed as a line: confident only when its program
    // reads the keyboard under it.
    assert!(!d.detect(asked).unwrap().confident);
    assert!(
        d.judge(asked, Some(&term(Reads::Terminal)))
            .unwrap()
            .confident
    );
    let open = b"Continue? [y/N] ";
    assert!(d.judge(open, None).unwrap().confident);
    assert!(
        !d.judge(open, Some(&term(Reads::Elsewhere)))
            .unwrap()
            .confident
    );
    assert!(d.judge(open, Some(&term(Reads::Polls))).unwrap().confident);
    // Words no rule knows, under a program reading the keyboard.
    let words = b"echo a b c?...";
    assert_eq!(d.judge(words, Some(&term(Reads::Polls))), None);
    let found = d.judge(words, Some(&term(Reads::Terminal))).unwrap();
    assert_eq!(found.rule, terminal::READS_TERMINAL);
    // A secret: whole lines without echo.
    let secret = Terminal {
        echo: false,
        ..term(Reads::Unknown)
    };
    assert_eq!(
        d.judge(b"Vault token ", Some(&secret)).map(|f| f.rule),
        Some(terminal::NO_ECHO.to_owned())
    );
}

#[test]
fn a_field_marked_as_filled_and_keys_offered_to_answer() {
    check(&[
        // A pre-filled field marked as the one being filled, the cursor
        // hidden elsewhere (create-gatsby).
        (
            "What would you like to call your site?\n? ‣ My Gatsby Site\n",
            Some((QUESTION_PROMPT, "What would you like to call your site?")),
        ),
        // Keys offered to answer with (gitmoji, cfdisk, npm-check-updates).
        (
            "? Choose a gitmoji: (Use arrow keys or type to search)\n  No results...\n",
            Some((
                ANSWER_HINT,
                "? Choose a gitmoji: (Use arrow keys or type to search)",
            )),
        ),
        (
            "Device does not contain a recognized partition table.\nSelect a type to create a new label, press 'L' to load script file, 'Q' quits.\n",
            Some((
                ANSWER_HINT,
                "Select a type to create a new label, press 'L' to load script file, 'Q' quits.",
            )),
        ),
        // Prose about keys, and a server's way out, are not hints.
        ("Use the arrow keys to navigate the menu.\n", None),
        (
            "Running on http://127.0.0.1:5000\nPress CTRL+C to quit\n",
            None,
        ),
    ]);
}

#[test]
fn menus_with_descriptions_letter_choices_and_listed_keys() {
    check(&[
        // A clack select: radios with a description column (create-stencil).
        (
            "◆  Select a starter project.\n│  ● component                Collection of web components that can be used anywhere\n│  ○ app [community]          Minimal starter for building a Stencil app or website\n│  ○ Type a custom starter\n└\n",
            Some((CHOICE_MENU, "◆  Select a starter project.")),
        ),
        // Inquirer's pager hint under a long list (czg).
        (
            "? Select the type of change that you're committing: Use arrow keys or type to search\n❯ feat:     A new feature\n  fix:      A bug fix\n(Move up and down to reveal more choices)\n",
            Some((ANSWER_HINT, "(Move up and down to reveal more choices)")),
        ),
        // One-letter choices typed after their list (rclone config).
        (
            "No remotes found, make a new one?\nn) New remote\ns) Set configuration password\nq) Quit config\nn/s/q> ",
            Some((YES_NO, "n/s/q>")),
        ),
        // Keys listed in brackets after a suggestion (thefuck).
        (
            "git branch [enter/↑/↓/ctrl+c]",
            Some((ANSWER_HINT, "git branch [enter/↑/↓/ctrl+c]")),
        ),
        // A path, a ratio, and a key legend in columns over a tree's
        // marked node are none of these.
        ("src/a/b\n", None),
        ("a/b/c\n", None),
        (
            "▶ Deploying Textual apps\n c Code  h Home  g Game  p Projects  w Widgets  ^s Screenshot  ^a Maximize\n",
            None,
        ),
    ]);
}

#[test]
fn buttons_press_enter_after_a_name_dotted_and_elided_options() {
    check(&[
        // A dialog's buttons (ELinks, pinentry, whiptail).
        (
            "Welcome to ELinks!\nPress ESC for menu.\n[ OK ]\n",
            Some((DIALOG_BUTTONS, "[ OK ]")),
        ),
        (
            "The update was installed.\n                <Ok>\n",
            Some((DIALOG_BUTTONS, "<Ok>")),
        ),
        // A program's name before its words; the key in angle brackets (cmus).
        (
            "cmus: Press <enter> to continue.",
            Some((PRESS_ENTER, "cmus: Press <enter> to continue.")),
        ),
        // Options that are file names, under an inquirer question (cz init).
        (
            "? Please choose a supported config file:  (Use arrow keys)\n » .cz.toml\n   cz.toml\n   .cz.json\n   pyproject.toml\n",
            Some((
                CHOICE_MENU,
                "? Please choose a supported config file:  (Use arrow keys)",
            )),
        ),
        // Eleven options, the last elided (bumpp).
        (
            "? Current version 1.0.0 ›\n  major 2.0.0\n  minor 1.1.0\n  patch 1.0.1\n❯ next 1.0.1\n  conventional 1.0.1\n  pre-patch 1.0.1-beta.1\n  pre-minor 1.1.0-beta.1\n  pre-major 2.0.0-beta.1\n  as-is 1.0.0\n  custom ...\n",
            Some((CHOICE_MENU, "? Current version 1.0.0 ›")),
        ),
        // Buttons named in prose, a sentence ending in dots, are not.
        ("Click [OK] to go on, then wait.\n", None),
        ("Loading modules...\nReading config.\n", None),
    ]);
}
