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
