import time, enlighten
manager = enlighten.get_manager()
bar = manager.counter(total=500, desc="Uploading", unit="files")
for i in range(500):
    time.sleep(0.005)
    bar.update()
    if i == 240:
        time.sleep(600)
