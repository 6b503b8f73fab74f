from pzp import pzp
choice = pzp(candidates=["alpha.service", "beta.service", "cron.service", "docker.service", "ssh.service"], fullscreen=False)
print(choice)
