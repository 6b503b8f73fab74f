# The urwid tutorial's menu (https://urwid.org/tutorial/): a list of choices, the focused one reversed.
import urwid

choices = "Chapman Cleese Gilliam Idle Jones Palin".split()

def menu(title, choices):
    body = [urwid.Text(title), urwid.Divider()]
    for c in choices:
        button = urwid.Button(c)
        urwid.connect_signal(button, "click", item_chosen, c)
        body.append(urwid.AttrMap(button, None, focus_map="reversed"))
    return urwid.ListBox(urwid.SimpleFocusListWalker(body))

def item_chosen(button, choice):
    raise urwid.ExitMainLoop()

main = urwid.Padding(menu("Pythons", choices), left=2, right=2)
top = urwid.Overlay(main, urwid.SolidFill("\N{MEDIUM SHADE}"), align="center", width=("relative", 60),
                    valign="middle", height=("relative", 60), min_width=20, min_height=9)
urwid.MainLoop(top, palette=[("reversed", "standout", "")]).run()
