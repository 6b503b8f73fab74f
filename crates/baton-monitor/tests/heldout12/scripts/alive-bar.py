import time
from alive_progress import alive_bar
with alive_bar(1000, title="Indexing") as bar:
    for i in range(1000):
        time.sleep(0.01)
        bar()
        if i == 420:
            time.sleep(600)
