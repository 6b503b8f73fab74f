import cmd2

class App(cmd2.Cmd):
    """A deploy shell."""
    def __init__(self):
        super().__init__()
        self.prompt = "deploy> "
        self.intro = "Welcome to the deploy shell. Type help or ? to list commands."

App().cmdloop()
