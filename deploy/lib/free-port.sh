# free-port.sh — sourced by the with-*.sh wrappers: free_port prints a TCP port on 127.0.0.1
# that is free together with the next one (the broker's controller, the registry's management
# port).
free_port() {
  python3 -c 'import socket
for _ in range(50):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p + 1)); t.close(); print(p); break
    except OSError:
        t.close()'
}
