import time
print("3 files will be deleted:")
print("  build/a.o")
print("  build/b.o")
print("  build/c.o")
print("Delete these files? [y/N] y")
print("deleting...")
time.sleep(600)
