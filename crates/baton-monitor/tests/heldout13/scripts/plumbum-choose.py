from plumbum.cli.terminal import choose
branch = choose("Which branch should be released?", ["main", "release/2.x", "hotfix"], default="main")
print(branch)
