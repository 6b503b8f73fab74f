import cmd

class Todo(cmd.Cmd):
    intro = "Todo shell. Type help or ? to list commands.\n"
    prompt = "(todo) "
    def do_add(self, arg):
        "Add a task"
        print("added", arg)

Todo().cmdloop()
