// kv::store (examples/kv): the open-addressing table and its slab blocks
// against std::unordered_map under random churn — sets that change a
// value's size and expiry, deletes (backward shift), lazy expiry, the sweep,
// growth and clear — plus the figures it publishes.
#include "kv/store.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>

namespace {

struct model_value {
    std::string value;
    std::int64_t expire_at = 0;
};

}  // namespace

TEST(KvStore, MatchesAMapUnderChurn) {
    kv::stats published;
    kv::store s{&published};
    std::unordered_map<std::string, model_value> model;
    std::mt19937_64 rng{7};
    std::int64_t now = 1000;
    const auto live = [&](const std::string& k) {
        auto it = model.find(k);
        if (it == model.end()) return false;
        if (it->second.expire_at != 0 && it->second.expire_at <= now) {
            model.erase(it);
            return false;
        }
        return true;
    };
    for (int step = 0; step < 200000; ++step) {
        const std::string key = "key:" + std::to_string(rng() % 3000);
        switch (rng() % 8) {
        case 0:
        case 1:
        case 2: {  // set, sizes across block classes (and past the slab limit)
            const std::size_t size = rng() % 16 == 0 ? 1500 + rng() % 3000 : rng() % 100;
            const std::string value(size, static_cast<char>('a' + rng() % 26));
            const std::int64_t expire_at = rng() % 4 == 0 ? now + 1 + static_cast<std::int64_t>(rng() % 50) : 0;
            s.set(key, value, expire_at);
            model[key] = {value, expire_at};
            break;
        }
        case 3: {
            const bool had = live(key);
            EXPECT_EQ(s.erase(key, now), had) << key;
            model.erase(key);
            break;
        }
        case 4: {
            const bool had = live(key);
            const std::int64_t at = rng() % 2 ? now + 10 : 0;
            EXPECT_EQ(s.set_expiry(key, at, now), had) << key;
            if (had) model[key].expire_at = at;
            break;
        }
        case 5: now += static_cast<std::int64_t>(rng() % 5); break;
        case 6: s.sweep(64, now); break;
        default: {
            const bool had = live(key);
            auto got = s.get(key, now);
            ASSERT_EQ(got.has_value(), had) << key << " at step " << step;
            if (had) {
                EXPECT_EQ(got->value, model[key].value);
                EXPECT_EQ(got->expire_at, model[key].expire_at);
            }
        }
        }
    }
    // Every key the model holds is there, and nothing else is counted.
    for (auto it = model.begin(); it != model.end();) {
        if (it->second.expire_at != 0 && it->second.expire_at <= now) it = model.erase(it); else ++it;
    }
    s.sweep(1 << 20, now);
    EXPECT_EQ(s.size(), model.size());
    for (const auto& [k, v] : model) {
        auto got = s.get(k, now);
        ASSERT_TRUE(got) << k;
        EXPECT_EQ(got->value, v.value);
    }
    EXPECT_EQ(published.keys.load(), model.size());
    EXPECT_EQ(published.used_bytes.load(), s.used_bytes());
    s.clear();
    EXPECT_EQ(s.size(), 0u);
    EXPECT_EQ(published.keys.load(), 0u);
    EXPECT_FALSE(s.get("key:1", now));
}

TEST(KvStore, SweepRemovesExpiredKeysWithoutLookups) {
    kv::store s;
    for (int i = 0; i < 10000; ++i) s.set("k" + std::to_string(i), "v", i % 2 ? 50 : 0);
    EXPECT_EQ(s.expiring(), 5000u);
    std::size_t swept = 0;
    for (int round = 0; round < 100 && s.expiring() > 0; ++round) swept += s.sweep(1024, 100);
    EXPECT_EQ(swept, 5000u);
    EXPECT_EQ(s.size(), 5000u);
    EXPECT_EQ(s.expiring(), 0u);
}

TEST(KvStore, SmallKeysCostFewBytes) {
    kv::store s;
    const std::size_t empty = s.used_bytes();
    char key[17], value[33];
    for (int i = 0; i < 100000; ++i) {
        std::snprintf(key, sizeof key, "key:%012d", i);
        std::snprintf(value, sizeof value, "%032d", i);
        s.set(key, value, 0);
    }
    const double per_key = static_cast<double>(s.used_bytes() - empty) / 100000;
    EXPECT_LT(per_key, 80.0);  // a 56-byte block and the table's share (redis-server: ~136)
    EXPECT_GT(per_key, 56.0);
}
