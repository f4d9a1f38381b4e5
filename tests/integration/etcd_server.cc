#include "integration/etcd_server.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "integration/server_process.h"

namespace dlock::test {

std::unique_ptr<EtcdServer> EtcdServer::Start(const TlsFiles* tls) {
  std::unique_ptr<EtcdServer> server(new EtcdServer());
  if (tls) server->tls_ = *tls;
  server->port_ = FreePort();
  server->peer_port_ = FreePort();
  std::string pattern = (std::filesystem::temp_directory_path() / "dlock-etcd-XXXXXX").string();
  server->dir_ = ::mkdtemp(pattern.data());
  if (!server->Launch()) return nullptr;
  return server;
}

bool EtcdServer::Launch() {
  const std::string client = (tls_ ? "https://" : "http://") + Endpoint();
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  std::vector<std::string> args = {"etcd",
                                   "--name",
                                   "n1",
                                   "--data-dir",
                                   (dir_ / "data").string(),
                                   "--listen-client-urls",
                                   client,
                                   "--advertise-client-urls",
                                   client,
                                   "--listen-peer-urls",
                                   peer,
                                   "--initial-advertise-peer-urls",
                                   peer,
                                   "--initial-cluster",
                                   "n1=" + peer};
  if (tls_) {
    args.insert(args.end(), {"--cert-file", tls_->server_cert.string(), "--key-file",
                             tls_->server_key.string()});
  }
  pid_ = SpawnServer(
      args, (dir_ / "etcd.log").string(),
      [&] {
        return Ctl({"endpoint", "health"}) == 0;
      },
      "etcd-server");
  return pid_ > 0;
}

int EtcdServer::Ctl(const std::vector<std::string>& args, std::string* out) const {
  std::string cmd = "ETCDCTL_API=3 etcdctl --endpoints " + Endpoint();
  if (tls_) cmd += " --cacert " + tls_->ca_cert.string();
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " 2>&1";
  int status = -1;
  std::string text = CommandOutput(cmd, &status);
  if (out) *out = text;
  return status;
}

bool EtcdServer::Restart() {
  Stop();
  return Launch();
}

EtcdServer::~EtcdServer() {
  Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void EtcdServer::Stop() { KillServer(pid_); }

std::string EtcdServer::Uri(const std::string& userinfo, const std::string& suffix) const {
  return "etcd://" + (userinfo.empty() ? "" : userinfo + "@") + Endpoint() + suffix;
}

}  // namespace dlock::test
