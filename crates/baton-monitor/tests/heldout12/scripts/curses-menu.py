import curses

ITEMS = ["staging", "production", "canary"]

def main(stdscr):
    curses.curs_set(0)
    current = 0
    while True:
        stdscr.erase()
        stdscr.addstr(1, 2, "Select an environment to deploy to:")
        for i, item in enumerate(ITEMS):
            attr = curses.A_REVERSE if i == current else curses.A_NORMAL
            stdscr.addstr(3 + i, 4, item, attr)
        stdscr.refresh()
        key = stdscr.getch()
        if key == curses.KEY_UP:
            current = (current - 1) % len(ITEMS)
        elif key == curses.KEY_DOWN:
            current = (current + 1) % len(ITEMS)
        elif key in (10, 13):
            return ITEMS[current]

print(curses.wrapper(main))
