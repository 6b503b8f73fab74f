import time
print("The authenticity of host 'git.example.com (10.0.0.5)' can't be established.")
print("ED25519 key fingerprint is SHA256:5h3kd8e0Xq2Hn9Y7rYp6m4QZc1t9s0a2b3c4d5e6f7g.")
print("Are you sure you want to continue connecting (yes/no/[fingerprint])? yes")
print("Warning: Permanently added 'git.example.com' (ED25519) to the list of known hosts.")
print("Cloning into 'service'...")
time.sleep(600)
