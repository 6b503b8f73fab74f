import curses
from curses.textpad import Textbox, rectangle

def main(stdscr):
    stdscr.addstr(0, 0, "Enter the release notes title: (hit Ctrl-G to send)")
    editwin = curses.newwin(1, 40, 2, 1)
    rectangle(stdscr, 1, 0, 3, 42)
    stdscr.refresh()
    box = Textbox(editwin)
    box.edit()
    return box.gather()

print(curses.wrapper(main))
