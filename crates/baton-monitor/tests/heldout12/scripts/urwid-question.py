# The urwid tutorial's "What is your name?" edit.
import urwid

def exit_on_enter(key):
    if key == "enter":
        raise urwid.ExitMainLoop()

edit = urwid.Edit("What is your name?\n")
fill = urwid.Filler(edit, "top")
urwid.MainLoop(fill, unhandled_input=exit_on_enter).run()
