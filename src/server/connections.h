// The HTTP server's open connections, seen from the operating system (Linux): cpp-httplib keeps
// them to itself, and a kept-alive connection idling between requests holds a worker thread in
// a wait that does not see Server::stop() until its idle timeout ends.
#pragma once

namespace wedlm::server {

// Shuts down (both ways; the server closes them) this process's connected TCP sockets whose local
// port is `port`, not its listening socket. At shutdown, once in-flight requests have ended, what
// is left are idle kept-alive connections; their clients see the connection closed, as after an
// idle timeout. Returns how many it shut down.
int shut_down_connections(int port);

}  // namespace wedlm::server
