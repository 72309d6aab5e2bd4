// wedlm serve: the OpenAI-compatible HTTP server (src/server) over the serving engine. Listens
// first (/health answers 503 while the model loads), then loads and serves until SIGINT/SIGTERM,
// which drain in-flight requests (up to --shutdown-grace seconds, then cancel) and exit 0.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/regular_file.h"
#include "server/log.h"
#include "server/server.h"
#include "tools/cli.h"
#include "wedlm_commit.h"

namespace wedlm::cli {
namespace {

using server::ServedModel;

void log_event(const nlohmann::ordered_json& j) { server::log_json(server::LogLevel::kInfo, j); }

// A failure to start, logged as what it is; the exit status.
int failed(const std::string& message) {
  server::log_json(server::LogLevel::kError, {{"event", "error"}, {"message", message}});
  return 1;
}

// Request defaults: the checkpoint's generation_config.json sampling fields, else the Tencent
// engine's defaults (wedlm-spec.md §3.7). Values no request could use are refused by name at
// start (else every request would fail).
Result<SamplingParams> default_sampling(const std::string& dir) {
  SamplingParams s;
  const std::string path = dir + "/generation_config.json";
  if (const Status f = check_regular_file(path); !f.is_ok())
    return f.kind() == ErrorKind::kNotFound ? Result<SamplingParams>(s) : Result<SamplingParams>(f);
  std::ifstream in(path);
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object()) return s;
  if (j.contains("temperature") && j["temperature"].is_number()) s.temperature = j["temperature"];
  if (j.contains("top_p") && j["top_p"].is_number()) s.top_p = j["top_p"];
  if (j.contains("top_k") && j["top_k"].is_number_integer()) s.top_k = j["top_k"];
  const auto bad = [&](const std::string& what) {
    return Status(ErrorKind::kCorruptFile, path + ": " + what);
  };
  if (!(s.temperature >= 0 && s.temperature <= 100))
    return bad(fmt::format("temperature {} must be in [0, 100]", s.temperature));
  if (!(s.top_p > 0 && s.top_p <= 1))
    return bad(fmt::format("top_p {} must be in (0, 1]", s.top_p));
  if (s.top_k < 0) s.top_k = 0;  // -1 and 0 both mean off (as in requests)
  return s;
}

std::string name_of(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  const size_t slash = d.find_last_of('/');
  return slash == std::string::npos ? d : d.substr(slash + 1);
}

Result<ServedModel> served_model(const CommonFlags& f, const ServeFlags& s, const Loaded& m,
                                 const ChatTemplate& chat) {
  if (!m.tok)
    return Status(m.tok_status.kind(),
                  "serve needs the model's tokenizer.json: " + m.tok_status.message());
  ServedModel sm;
  sm.name = s.names.empty() ? name_of(f.model_dir) : s.names.front();
  if (s.names.size() > 1) sm.aliases.assign(s.names.begin() + 1, s.names.end());
  sm.any_model = s.any_model;
  sm.tok = &*m.tok;
  sm.chat = &chat;
  sm.config = m.ck->config();
  sm.facts = facts_of(m, f.context);
  const Tokenizer* tok = sm.tok;  // stop strings are matched on the text a reply shows
  sm.facts.text = [tok](std::span<const int32_t> ids) {
    auto t = tok->decode(ids, true);
    return t.is_ok() ? t.value() : std::string();
  };
  auto sampling = default_sampling(f.model_dir);
  if (!sampling.is_ok()) return sampling.status();
  sm.sampling = sampling.value();
  sm.created = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  return sm;
}

// Waits for SIGINT or SIGTERM (blocked in every thread, so only this wait sees them).
int wait_for_signal(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace

void add_serve(CLI::App* app, ServeFlags& s) {
  server::ServerConfig& c = s.config;
  app->add_option("--host", c.host, "address to listen on")->capture_default_str();
  app->add_option("--port", c.port, "port (0 = any free port, printed at startup)")
      ->capture_default_str();
  app->add_option("--api-key", c.api_key,
                  "require 'Authorization: Bearer KEY' (or env WEDLM_API_KEY)");
  app->add_option("--served-model-name,--alias", s.names,
                  "model names requests may give; the first is the id replies and /v1/models "
                  "show (default: the model directory's name)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app->add_flag("--any-model", s.any_model,
                "answer requests for any model name (default: 404 model_not_found)");
  app->add_option("--timeout", c.timeout_s, "per-request time limit, seconds")
      ->capture_default_str();
  app->add_option("--threads-http", c.http_threads,
                  "most requests handled at once, a worker thread each, started as needed "
                  "(0 = parallel + max-waiting + 16, at most 4096)");
  app->add_option("--max-connections", c.max_connections,
                  "most open connections; more are answered 503 (0 = 8192, within the open-file "
                  "limit)");
  app->add_option("--request-read-timeout", c.request_read_timeout_s,
                  "seconds a request's head and body may take to arrive (plus 1 per 64 KiB of "
                  "body), else 408")
      ->capture_default_str();
  app->add_option("--keep-alive-timeout", c.keep_alive_timeout_s,
                  "seconds an idle kept-alive connection stays open")
      ->capture_default_str();
  app->add_option("--shutdown-grace", s.shutdown_grace_s,
                  "seconds in-flight requests get to finish on SIGINT/SIGTERM")
      ->capture_default_str();
  app->add_flag("--log-prompts", c.log_prompts, "put prompt and reply text in the request log");
  add_engine(app, s.engine, "--parallel");
}

int run_serve(const CommonFlags& f, const ServeFlags& s) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts
  signal(SIGPIPE, SIG_IGN);                   // a vanished client is an error return, not a kill
  server::ServerConfig sc = s.config;
  sc.build = WEDLM_COMMIT;
  if (const char* env = std::getenv("WEDLM_API_KEY"); sc.api_key.empty() && env) sc.api_key = env;
  // a worker for every request the engine can hold, running or queued
  sc.http_threads = sc.http_threads > 0 ? sc.http_threads
                                        : server::default_http_threads(s.engine.config.scheduler);
  if (sc.timeout_s < 1) return failed("--timeout must be at least 1 second");
  if (sc.request_read_timeout_s < 1)
    return failed("--request-read-timeout must be at least 1 second");
  if (sc.keep_alive_timeout_s < 1) return failed("--keep-alive-timeout must be at least 1 second");
  server::Server srv(sc);
  auto port = srv.bind();
  if (!port.is_ok()) return failed(port.status().message());
  std::thread http([&] { srv.run(); });
  log_event({{"event", "listening"},
             {"host", sc.host},
             {"port", port.value()},
             {"auth", !sc.api_key.empty()}});
  std::atomic<bool> giving_up{false};  // a failed start, not a signal, stops the server
  std::thread signals([&] {
    const int sig = wait_for_signal(set);
    if (!giving_up)
      log_event({{"event", "shutdown"}, {"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
    srv.shutdown(std::chrono::milliseconds(int64_t(s.shutdown_grace_s * 1000)));
  });
  const auto stop = [&](int code) {
    giving_up = code != 0;
    if (code != 0) kill(getpid(), SIGTERM);  // wakes the signal thread, which stops the server
    signals.join();
    http.join();
    return code;
  };
  auto l = load(f);
  if (!l.is_ok()) return failed(l.status().to_string()), stop(1);
  const ChatTemplate chat = ChatTemplate::load(f.model_dir);
  if (!chat.note().empty()) log_event({{"event", "note"}, {"message", chat.note()}});
  auto sm = served_model(f, s, l.value(), chat);
  if (!sm.is_ok()) return failed(sm.status().to_string()), stop(1);
  CommonFlags spec = f;
  if (Status e = check_engine_flags(s.engine, spec.forward); !e.is_ok())
    return failed(e.message()), stop(1);
  auto fw = l.value().forward(spec);
  if (!fw.is_ok()) return failed(fw.status().message()), stop(1);
  const std::string device = fw.value()->device();
  server::GrammarCache grammars(server::vocabulary_of(*sm.value().tok, sm.value().facts));
  sm.value().grammars = &grammars;
  Engine engine(std::move(fw).value(), sm.value().facts, s.engine.config);
  srv.attach(sm.value(), engine);
  log_event({{"event", "ready"},
             {"model", sm.value().name},
             {"port", port.value()},
             {"context", sm.value().facts.context},
             {"device", device},
             {"kv_tokens", engine.kv_tokens()},
             {"parallel", s.engine.config.scheduler.max_running}});
  return stop(0);
}

}  // namespace wedlm::cli
