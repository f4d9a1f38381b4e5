#include "dlock/uri.h"

#include <gtest/gtest.h>

#include "dlock/backends/etcd.h"
#include "dlock/backends/file.h"
#include "dlock/backends/redis.h"
#include "dlock/backends/redlock.h"
#include "dlock/backends/zookeeper.h"
#include "dlock/open.h"

namespace dlock {
namespace {

TEST(UriTest, FileAbsolute) {
  auto uri = ParseBackendUri("file:///var/lib/dlock");
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  EXPECT_EQ(uri->scheme, "file");
  EXPECT_EQ(uri->path, "/var/lib/dlock");
  EXPECT_TRUE(uri->hosts.empty());
  EXPECT_EQ(uri->Redacted(), "file:///var/lib/dlock");
}

TEST(UriTest, FileLocalhostAndRelative) {
  EXPECT_EQ(ParseBackendUri("file://localhost/tmp/x")->path, "/tmp/x");
  EXPECT_EQ(ParseBackendUri("file://locks")->path, "locks");
  EXPECT_EQ(ParseBackendUri("file:///tmp/a%20b")->path, "/tmp/a b");
}

TEST(UriTest, RedisWithCredentialsAndOptions) {
  auto uri = ParseBackendUri("rediss://alice:s%40cret@db.example:6380/2?cacert=/etc/ca.pem");
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  EXPECT_EQ(uri->scheme, "rediss");
  EXPECT_EQ(uri->user, "alice");
  ASSERT_TRUE(uri->password.has_value());
  EXPECT_EQ(*uri->password, "s@cret");
  ASSERT_EQ(uri->hosts.size(), 1u);
  EXPECT_EQ(uri->hosts[0].host, "db.example");
  EXPECT_EQ(uri->hosts[0].port, 6380);
  EXPECT_EQ(uri->path, "/2");
  EXPECT_EQ(uri->query.at("cacert"), "/etc/ca.pem");
}

TEST(UriTest, RedactedHidesPasswords) {
  auto uri = ParseBackendUri("redis://alice:topsecret@h:1?password=alsosecret");
  ASSERT_TRUE(uri.ok());
  std::string shown = uri->Redacted();
  EXPECT_EQ(shown.find("topsecret"), std::string::npos) << shown;
  EXPECT_EQ(shown.find("alsosecret"), std::string::npos) << shown;
  EXPECT_NE(shown.find("alice:***@h:1"), std::string::npos) << shown;
  auto sentinel = ParseBackendUri("redis+sentinel://h:1,h:2/m?sentinel_password=s3cret&prefix=p");
  ASSERT_TRUE(sentinel.ok());
  EXPECT_EQ(sentinel->Redacted(), "redis+sentinel://h:1,h:2/m?prefix=p&sentinel_password=***");
}

TEST(UriTest, SeveralHostsAndIpv6) {
  auto uri = ParseBackendUri("redlock://a:1,b:2,[::1]:3");
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  ASSERT_EQ(uri->hosts.size(), 3u);
  EXPECT_EQ(uri->hosts[2].host, "::1");
  EXPECT_EQ(uri->hosts[2].port, 3);
  EXPECT_EQ(uri->Redacted(), "redlock://a:1,b:2,[::1]:3");
}

TEST(UriTest, MalformedUrisSayWhatIsWrong) {
  struct Case {
    const char* uri;
    const char* says;
  };
  for (const Case& c :
       {Case{"nonsense", "SCHEME://"}, Case{"://x", "SCHEME://"}, Case{"redis://", "needs a host"},
        Case{"redis://h:0", "bad port"}, Case{"redis://h:99999", "bad port"},
        Case{"redis://h:x", "bad port"}, Case{"redis://h:", "empty port"},
        Case{"redis://:6379", "empty host"}, Case{"redis://h:1,", "empty host"},
        Case{"redis://h%zz", "bad host"}, Case{"file://", "needs a directory"},
        Case{"redis://h:1#f", "fragment"}, Case{"redis://h?a=1&a=2", "twice"},
        Case{"1redis://h", "bad scheme"}, Case{"redis://[::1", "without ']'"}}) {
    auto uri = ParseBackendUri(c.uri);
    ASSERT_FALSE(uri.ok()) << c.uri;
    EXPECT_EQ(uri.status().code(), Code::kInvalidArgument) << c.uri;
    EXPECT_NE(uri.status().message().find(c.says), std::string::npos)
        << c.uri << " -> " << uri.status().message();
  }
}

TEST(UriTest, PasswordNeverInErrors) {
  auto uri = ParseBackendUri("redis://u:pa%zzss@h:1");
  ASSERT_FALSE(uri.ok());
  EXPECT_EQ(uri.status().message().find("pa%zzss"), std::string::npos);
}

TEST(UriTest, DriftOptionsAreEveryBackendsAndChecked) {
  auto uri = ParseBackendUri("redis://h?drift_factor=0.05&drift_ms=10&prefix=p:");
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  EXPECT_DOUBLE_EQ(uri->drift.factor, 0.05);
  EXPECT_EQ(uri->drift.fixed, std::chrono::milliseconds(10));
  EXPECT_EQ(uri->query.size(), 1u);  // prefix only: the drift options are taken out
  auto plain = ParseBackendUri("zk://h");
  ASSERT_TRUE(plain.ok());
  EXPECT_DOUBLE_EQ(plain->drift.factor, 0.01);
  EXPECT_EQ(plain->drift.fixed, std::chrono::milliseconds(2));
  for (std::string bad : {"drift_factor=", "drift_factor=x", "drift_factor=-0.1",
                          "drift_factor=0.51", "drift_factor=nan", "drift_factor=inf",
                          "drift_ms=", "drift_ms=1.5", "drift_ms=-1", "drift_ms=60001"}) {
    auto r = ParseBackendUri("file:///tmp/d?" + bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("drift"), std::string::npos) << r.status().message();
  }
}

TEST(OpenBackendTest, EveryBackendTakesTheDriftOfItsUri) {
  auto file = FileOptionsFromUri(*ParseBackendUri("file:///tmp/d?drift_factor=0.1&drift_ms=7"));
  ASSERT_TRUE(file.ok());
  EXPECT_DOUBLE_EQ(file->drift.factor, 0.1);
  EXPECT_EQ(file->drift.fixed, std::chrono::milliseconds(7));
  auto backend = OpenBackend("file:///tmp/dlock-uri-test?drift_ms=7");
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  EXPECT_EQ((*backend)->drift().fixed, std::chrono::milliseconds(7));
#ifdef DLOCK_WITH_REDIS
  auto redis = RedisOptionsFromUri(*ParseBackendUri("redis://h?drift_ms=7"));
  ASSERT_TRUE(redis.ok());
  EXPECT_EQ(redis->drift.fixed, std::chrono::milliseconds(7));
  auto redlock = RedlockOptionsFromUri(*ParseBackendUri("redlock://a,b,c?drift_ms=7"));
  ASSERT_TRUE(redlock.ok());
  EXPECT_EQ(redlock->instances.front().drift.fixed, std::chrono::milliseconds(7));
#endif
#ifdef DLOCK_WITH_ETCD
  auto etcd = EtcdOptionsFromUri(*ParseBackendUri("etcd://h?drift_ms=7"));
  ASSERT_TRUE(etcd.ok());
  EXPECT_EQ(etcd->drift.fixed, std::chrono::milliseconds(7));
#endif
#ifdef DLOCK_WITH_ZOOKEEPER
  auto zk = ZooKeeperOptionsFromUri(*ParseBackendUri("zk://h?drift_ms=7"));
  ASSERT_TRUE(zk.ok());
  EXPECT_EQ(zk->drift.fixed, std::chrono::milliseconds(7));
#endif
}

TEST(OpenBackendTest, UnknownScheme) {
  auto unknown = OpenBackend("mysql://h:1");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), Code::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("unknown backend scheme 'mysql://'"),
            std::string::npos);
}

TEST(OpenBackendTest, FileRejectsUnknownOptions) {
  auto b = OpenBackend("file:///tmp/dlock-uri-test?colour=blue");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("unknown option 'colour'"), std::string::npos);
  auto bad_bool = OpenBackend("file:///tmp/dlock-uri-test?fsync=maybe");
  ASSERT_FALSE(bad_bool.ok());
  EXPECT_EQ(bad_bool.status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace dlock
