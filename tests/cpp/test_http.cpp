// The HTTP/1.1 layer (src/http): the request parser on its own, then a server in this process
// driven over loopback by raw sockets: pipelining, half-close, slow clients, limits, framing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "http/http_server.h"
#include "http/request_parser.h"
#include "http/worker_pool.h"

namespace wedlm::http {
namespace {

using State = RequestParser::State;

State parse_all(RequestParser& p, std::string bytes) { return p.feed(bytes); }

TEST(RequestParser, ReadsAHeadAndAContentLengthBodyInPieces) {
  RequestParser p;
  std::string in =
      "POST /v1/chat%2Fx?stream=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json";
  EXPECT_EQ(p.feed(in), State::kHead);
  in += "\r\nContent-Length: 7\r\n\r\n{\"a\":";
  EXPECT_EQ(p.feed(in), State::kBody);
  EXPECT_TRUE(in.empty());
  in += "1}GET / HTTP/1.1\r\n\r\n";  // the rest of the body, then a pipelined request
  EXPECT_EQ(p.feed(in), State::kDone);
  const Request& r = p.request();
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/v1/chat/x");
  EXPECT_EQ(r.query, "stream=1");
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.body, "{\"a\":1}");
  EXPECT_EQ(in, "GET / HTTP/1.1\r\n\r\n");  // untouched for the next request
  p.reset();
  EXPECT_EQ(p.feed(in), State::kDone);
  EXPECT_EQ(p.request().method, "GET");
  EXPECT_TRUE(p.request().keep_alive());
}

TEST(RequestParser, DechunksABodyAndDropsTrailers) {
  RequestParser p;
  std::string in =
      "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: y\r\n\r\n";
  // byte by byte: every split point is a valid pause
  std::string fed;
  State st = State::kHead;
  for (char c : in) {
    fed += c;
    st = p.feed(fed);
    ASSERT_NE(st, State::kFailed) << p.error().message;
  }
  EXPECT_EQ(st, State::kDone);
  EXPECT_EQ(p.request().body, "Wikipedia");
}

TEST(RequestParser, RefusesWithTheStatusAndWhatWasWrong) {
  struct Case {
    std::string bytes;
    int status;
    std::string says;
  };
  const Limits small{256, 4, 100};
  const Case cases[] = {
      {"GET /\r\n\r\n", 400, "request line"},
      {"GET / HTTP/2.0\r\n\r\n", 505, "HTTP/2.0"},
      {"GET / XTTP/1.1\r\n\r\n", 400, "HTTP version"},
      {"G@T / HTTP/1.1\r\n\r\n", 400, "method"},
      {"GET nopath HTTP/1.1\r\n\r\n", 400, "target"},
      {"GET /%zz HTTP/1.1\r\n\r\n", 400, "percent"},
      {"GET /%00 HTTP/1.1\r\n\r\n", 400, "percent"},
      {"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400, "header field"},
      {"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400, "folding"},
      {"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", 400, "control"},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, "conflicting"},
      {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "Content-Length"},
      {"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 413, "101 bytes"},
      {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 413, "larger"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "gzip"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400, "both"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n", 413, "larger"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", 400, "chunk size"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", 400, "longer"},
      {"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", 431, "more than 4"},
      {"GET / HTTP/1.1\r\nA: " + std::string(300, 'x'), 431, "larger than 256"},
  };
  for (const Case& c : cases) {
    RequestParser p(small);
    EXPECT_EQ(parse_all(p, c.bytes), State::kFailed) << c.bytes;
    EXPECT_EQ(p.error().status, c.status) << c.bytes;
    EXPECT_NE(p.error().message.find(c.says), std::string::npos)
        << c.bytes << " -> " << p.error().message;
  }
}

TEST(RequestParser, KeepAliveAndExpectFollowTheVersion) {
  const auto parsed = [](const std::string& bytes) {
    RequestParser p;
    EXPECT_EQ(parse_all(p, bytes), State::kDone);
    return p.request();
  };
  EXPECT_FALSE(parsed("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").keep_alive());
  EXPECT_FALSE(parsed("GET / HTTP/1.0\r\n\r\n").keep_alive());
  EXPECT_TRUE(parsed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive());
  EXPECT_TRUE(parsed("GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n").expects_continue());
  EXPECT_EQ(parsed("\r\n\r\nGET http://h:1/a?b HTTP/1.1\r\n\r\n").path, "/a");  // absolute-form
}

TEST(WorkerPool, RunsEveryJobAndLetsIdleThreadsGo) {
  WorkerPool pool(4, std::chrono::milliseconds(50));
  std::atomic<int> done{0};
  for (int i = 0; i < 20; ++i) pool.enqueue([&] { ++done; });
  for (int i = 0; i < 200 && done < 20; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(done, 20);
  EXPECT_LE(pool.threads(), 4u);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(pool.threads(), 0u);  // idle past 50 ms: ended
  pool.enqueue([&] { ++done; });  // and started again on demand
  pool.shutdown();
  EXPECT_EQ(done, 21);
}

// A server in this process: /echo answers the body, /stream writes three chunks, /slow waits.
class HttpServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions o) {
    Handlers h;
    h.before_body = [](const Request& r) -> std::optional<Response> {
      if (r.header("X-Refuse").empty()) return std::nullopt;
      Response res;
      res.status = 401;
      res.set_content("refused", "text/plain");
      return res;
    };
    h.handle = [this](const Request& r) {
      Response res;
      if (r.path == "/long") {  // 20 parts, 50 ms apart; counts those the client took
        res.set_stream("text/plain", [this](BodyWriter& w) {
          for (int i = 0; i < 20 && w.write("part\n"); ++i) {
            ++long_parts_;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          }
        });
      } else if (r.path == "/stream") {
        res.set_stream("text/plain", [](BodyWriter& w) {
          for (const char* part : {"one ", "two ", "three"}) w.write(part);
        });
      } else if (r.path == "/slow") {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        res.set_content("slow", "text/plain");
      } else {
        res.set_content(r.method + " " + r.path + " [" + r.body + "]", "text/plain");
      }
      return res;
    };
    h.error = [](int status, const std::string& message) {
      Response res;
      res.status = status;
      res.set_content("error: " + message, "text/plain");
      return res;
    };
    h.log = [this](const Request&, const Response& res) { statuses_.push_back(res.status); };
    server_ = std::make_unique<HttpServer>(o, h);
    auto port = server_->bind("127.0.0.1", 0);
    ASSERT_TRUE(port.is_ok()) << port.status().message();
    port_ = port.value();
    thread_ = std::thread([this] { server_->run(); });
  }
  void TearDown() override {
    if (!server_) return;
    server_->stop();
    thread_.join();
  }
  int connect_client() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    return fd;
  }
  static void send_text(int fd, const std::string& s) {
    ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), ssize_t(s.size()));
  }
  // Everything the server sends until it closes (or `limit_ms` passes).
  static std::string read_to_close(int fd, int limit_ms = 5000) {
    std::string out;
    char buf[4096];
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(limit_ms);
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      out.append(buf, size_t(n));
    }
    return out;
  }
  static size_t count(const std::string& hay, const std::string& needle) {
    size_t n = 0;
    for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
    return n;
  }

  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
  std::vector<int> statuses_;
  std::atomic<int> long_parts_{0};
};

TEST_F(HttpServerTest, AnswersPipelinedRequestsInOrder) {
  start({});
  const int fd = connect_client();
  send_text(fd,
            "POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nxGET /b HTTP/1.1\r\n\r\n"
            "GET /c HTTP/1.1\r\nConnection: close\r\n\r\n");
  const std::string got = read_to_close(fd);
  ::close(fd);
  const size_t a = got.find("POST /a [x]"), b = got.find("GET /b []"), c = got.find("GET /c []");
  ASSERT_NE(a, std::string::npos) << got;
  ASSERT_NE(b, std::string::npos) << got;
  ASSERT_NE(c, std::string::npos) << got;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(count(got, "HTTP/1.1 200 OK"), 3u);
  EXPECT_EQ(count(got, "Connection: close"), 1u);
}

TEST_F(HttpServerTest, AHalfClosedClientGetsItsAnswer) {
  start({});
  const int fd = connect_client();
  send_text(fd, "GET /slow HTTP/1.1\r\n\r\n");
  ::shutdown(fd, SHUT_WR);
  const std::string got = read_to_close(fd);
  ::close(fd);
  EXPECT_NE(got.find("HTTP/1.1 200 OK"), std::string::npos) << got;
  EXPECT_NE(got.find("\r\n\r\nslow"), std::string::npos) << got;
}

TEST_F(HttpServerTest, AStreamGoesOnForAHalfCloseAndStopsForAClientThatLeaves) {
  start({});
  int fd = connect_client();
  send_text(fd, "GET /long HTTP/1.1\r\n\r\n");
  ::shutdown(fd, SHUT_WR);  // with the request: still wants the reply
  std::string got = read_to_close(fd);
  ::close(fd);
  EXPECT_EQ(count(got, "part\n"), 20u) << got;
  EXPECT_NE(got.find("0\r\n\r\n"), std::string::npos) << "the whole chunked body";
  long_parts_ = 0;
  fd = connect_client();
  send_text(fd, "GET /long HTTP/1.1\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // parts arriving
  ::shutdown(fd, SHUT_WR);  // well after the request: the client has left
  got = read_to_close(fd);
  ::close(fd);
  EXPECT_LT(long_parts_.load(), 12) << "stopped soon after the end of stream";
  EXPECT_GE(long_parts_.load(), 4);
}

TEST_F(HttpServerTest, ARequestCutShortByTheClientIsAnswered400) {
  start({});
  const int fd = connect_client();
  send_text(fd, "POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  ::shutdown(fd, SHUT_WR);
  const std::string got = read_to_close(fd);
  ::close(fd);
  EXPECT_NE(got.find("HTTP/1.1 400"), std::string::npos) << got;
  EXPECT_NE(got.find("before the request was complete"), std::string::npos) << got;
}

TEST_F(HttpServerTest, ASlowClientIsAnswered408AndHoldsNoWorker) {
  ServerOptions o;
  o.request_timeout_s = 1;
  o.max_workers = 1;
  start(o);
  const int slow = connect_client();
  send_text(slow, "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\na");  // and then nothing
  // meanwhile another client is served by the one worker
  const int other = connect_client();
  send_text(other, "GET /b HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_NE(read_to_close(other, 2000).find("GET /b []"), std::string::npos);
  ::close(other);
  const auto t0 = std::chrono::steady_clock::now();
  const std::string got = read_to_close(slow, 4000);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ::close(slow);
  EXPECT_NE(got.find("HTTP/1.1 408 Request Timeout"), std::string::npos) << got;
  EXPECT_NE(got.find("too slowly"), std::string::npos) << got;
  EXPECT_LT(s, 3.5) << "answered within the deadline's second plus a sweep";
}

TEST_F(HttpServerTest, AHeadThatNeverEndsIs408EvenIfBytesKeepComing) {
  ServerOptions o;
  o.request_timeout_s = 1;
  start(o);
  const int fd = connect_client();
  send_text(fd, "GET / HTTP/1.1\r\n");
  std::string got;
  for (int i = 0; i < 30 && got.empty(); ++i) {  // a header byte every 100 ms: each read is fast
    if (::send(fd, "X", 1, MSG_NOSIGNAL) != 1) break;
    got = read_to_close(fd, 100);
  }
  if (got.empty()) got = read_to_close(fd, 2000);
  ::close(fd);
  EXPECT_NE(got.find("HTTP/1.1 408"), std::string::npos) << got;
}

TEST_F(HttpServerTest, AnOversizedBodyIsRefusedFromItsHeadAlone) {
  ServerOptions o;
  o.limits.max_body_bytes = 1000;
  start(o);
  const int fd = connect_client();
  send_text(fd, "POST /a HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");  // no body sent
  const std::string got = read_to_close(fd, 2000);
  ::close(fd);
  EXPECT_NE(got.find("HTTP/1.1 413"), std::string::npos) << got;
  EXPECT_NE(got.find("5000 bytes"), std::string::npos) << got;
}

TEST_F(HttpServerTest, BeforeBodyRefusesAndCloses) {
  start({});
  const int fd = connect_client();
  send_text(fd, "POST /a HTTP/1.1\r\nX-Refuse: 1\r\nContent-Length: 3\r\n\r\nabc");
  const std::string got = read_to_close(fd, 2000);
  ::close(fd);
  EXPECT_NE(got.find("HTTP/1.1 401"), std::string::npos) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  EXPECT_EQ(got.find("POST /a"), std::string::npos) << "the handler never ran";
}

TEST_F(HttpServerTest, ExpectContinueGetsA100BeforeTheBody) {
  start({});
  const int fd = connect_client();
  send_text(fd, "POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  EXPECT_EQ(read_to_close(fd, 300), "HTTP/1.1 100 Continue\r\n\r\n");
  send_text(fd, "hi");
  const std::string got = read_to_close(fd, 500);
  ::close(fd);
  EXPECT_NE(got.find("POST /a [hi]"), std::string::npos) << got;
}

TEST_F(HttpServerTest, StreamsAreChunkedOn11AndEndWithTheConnectionOn10) {
  start({});
  int fd = connect_client();
  send_text(fd, "GET /stream HTTP/1.1\r\nConnection: close\r\n\r\n");
  std::string got = read_to_close(fd);
  ::close(fd);
  EXPECT_NE(got.find("Transfer-Encoding: chunked"), std::string::npos) << got;
  EXPECT_NE(got.find("4\r\none \r\n4\r\ntwo \r\n5\r\nthree\r\n0\r\n\r\n"), std::string::npos)
      << got;
  fd = connect_client();
  send_text(fd, "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  got = read_to_close(fd);
  ::close(fd);
  EXPECT_EQ(got.find("chunked"), std::string::npos) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  EXPECT_NE(got.find("\r\n\r\none two three"), std::string::npos) << got;
}

TEST_F(HttpServerTest, HeadGetsTheFieldsWithoutTheBody) {
  start({});
  const int fd = connect_client();
  send_text(fd, "HEAD /x HTTP/1.1\r\nConnection: close\r\n\r\n");
  const std::string got = read_to_close(fd);
  ::close(fd);
  EXPECT_NE(got.find("Content-Length: 10"), std::string::npos) << got;  // "HEAD /x []"
  EXPECT_EQ(got.substr(got.size() - 4), "\r\n\r\n") << got;
}

TEST_F(HttpServerTest, ConnectionsPastTheLimitAre503WithRetryAfter) {
  ServerOptions o;
  o.max_connections = 2;
  start(o);
  const int a = connect_client(), b = connect_client();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // both accepted
  const int c = connect_client();
  const std::string got = read_to_close(c, 2000);
  EXPECT_NE(got.find("HTTP/1.1 503"), std::string::npos) << got;
  EXPECT_NE(got.find("Retry-After: 1"), std::string::npos) << got;
  ::close(c);
  send_text(a, "GET /a HTTP/1.1\r\nConnection: close\r\n\r\n");  // the two held are served
  EXPECT_NE(read_to_close(a).find("200 OK"), std::string::npos);
  ::close(a);
  ::close(b);
}

TEST_F(HttpServerTest, IdleKeptAliveConnectionsCloseAfterTheirTimeout) {
  ServerOptions o;
  o.idle_timeout_s = 1;
  start(o);
  const int fd = connect_client();
  send_text(fd, "GET /a HTTP/1.1\r\n\r\n");
  const std::string got = read_to_close(fd, 4000);  // the answer, then the close
  ::close(fd);
  EXPECT_NE(got.find("200 OK"), std::string::npos);
  EXPECT_EQ(server_->counts().connections, 0u);
}

TEST(HttpServer, ASecondServerOnTheSamePortFailsNamingIt) {
  HttpServer a({}, {}), b({}, {});
  auto port = a.bind("127.0.0.1", 0);
  ASSERT_TRUE(port.is_ok());
  auto again = b.bind("127.0.0.1", port.value());
  ASSERT_FALSE(again.is_ok());
  EXPECT_NE(again.status().message().find("in use"), std::string::npos) << again.status().message();
}

}  // namespace
}  // namespace wedlm::http
