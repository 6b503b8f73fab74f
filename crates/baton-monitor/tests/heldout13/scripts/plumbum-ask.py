from plumbum.cli.terminal import ask
print("The tag v2.4.0 already exists on origin.")
ok = ask("Move the tag to the current commit", default=False)
print(ok)
