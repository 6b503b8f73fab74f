import time
print("Found 2 lockfiles. Remove the stale one? (y/n)")
print("--yes given: removing package-lock.json.bak")
print("Resolving dependencies...")
time.sleep(600)
