import socket, sys
print("Listening on 127.0.0.1:0 for the webhook callback...", flush=True)
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); s.accept()
