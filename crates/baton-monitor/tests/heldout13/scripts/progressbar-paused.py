import time, progressbar
for i in progressbar.progressbar(range(300)):
    time.sleep(0.01)
    if i == 150:
        time.sleep(600)
