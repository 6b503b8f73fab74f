from cleo.application import Application
from cleo.commands.command import Command

class Tag(Command):
    name = "tag"
    def handle(self):
        self.line("The last release was v2.3.1.")
        name = self.ask("Name of the new tag:", "v2.3.2")
        self.line(name)

app = Application()
app.add(Tag())
app.run()
