import { describe, expect, it } from "vitest";
import { createKeys, legacyKeys, type KeyBuilder } from "../../../src/storage/keys.js";

describe("createKeys", () => {
  const k = createKeys("bh:");

  it("spells every key under the prefix", () => {
    expect(k.session("shop", "123")).toBe("bh:session:{shop}:123");
    expect(k.session("shop", "-100:7")).toBe("bh:session:{shop}:-100:7");
    expect(k.plugin("conversations", "shop", "42")).toBe("bh:plugin:conversations:{shop}:42");
    expect(k.journal("shop")).toBe("bh:journal:{shop}");
    expect(k.watermark("shop")).toBe("bh:offset:{shop}");
    expect(k.done("shop")).toBe("bh:done:{shop}");
    expect(k.throttle("shop")).toBe("bh:throttle:{shop}:sent");
    expect(k.floodPrefix()).toBe("bh:flood:");
    expect(k.floodKey("shop", 777)).toBe("{shop}:777");
    expect(k.floodPrefix() + k.floodKey("shop", 777)).toBe("bh:flood:{shop}:777");
    expect(k.lease("shop")).toBe("bh:lease:{shop}");
    expect(k.fence("shop")).toBe("bh:fence:{shop}");
    expect(k.instances()).toBe("bh:instances:{registry}");
    expect(k.instanceUrls()).toBe("bh:instance-urls:{registry}");
    expect(k.leaseChannel()).toBe("bh:leases");
    expect(k.botInfo("123456")).toBe("bh:botinfo:123456");
  });

  it("works with an empty prefix and a prefix of any spelling", () => {
    const bare = createKeys("");
    expect(bare.session("a", "1")).toBe("session:{a}:1");
    expect(bare.journal("a")).toBe("journal:{a}");
    expect(bare.leaseChannel()).toBe("leases");
    expect(bare.instances()).toBe("instances:{registry}");
    const odd = createKeys("app/v2|");
    expect(odd.lease("a")).toBe("app/v2|lease:{a}");
    expect(odd.botInfo("9")).toBe("app/v2|botinfo:9");
  });

  /** Redis Cluster hashes only the part between the first `{` and the next `}`. */
  function hashTag(key: string): string | undefined {
    const open = key.indexOf("{");
    if (open < 0) return undefined;
    const close = key.indexOf("}", open + 1);
    return close <= open + 1 ? undefined : key.slice(open + 1, close);
  }

  it("tags every key of one bot with the bot id, so they share a cluster slot", () => {
    const perBot: Array<(keys: KeyBuilder, botId: string) => string> = [
      (keys, b) => keys.session(b, "1"),
      (keys, b) => keys.session(b, "{x}"),
      (keys, b) => keys.plugin("conversations", b, "{other}"),
      (keys, b) => keys.journal(b),
      (keys, b) => keys.watermark(b),
      (keys, b) => keys.done(b),
      (keys, b) => keys.throttle(b),
      (keys, b) => keys.floodPrefix() + keys.floodKey(b, 5),
      (keys, b) => keys.lease(b),
      (keys, b) => keys.fence(b),
    ];
    for (const prefix of ["", "bh:", "x-y_z:"]) {
      const keys = createKeys(prefix);
      for (const key of perBot) {
        for (const botId of ["shop", "Bot_2", "a-b"]) {
          const spelled = key(keys, botId);
          expect(spelled.startsWith(prefix)).toBe(true);
          expect(hashTag(spelled)).toBe(botId);
        }
      }
    }
  });

  it("gives the registry keys one shared tag and the bot-less keys none", () => {
    expect(hashTag(k.instances())).toBe("registry");
    expect(hashTag(k.instanceUrls())).toBe("registry");
    expect(hashTag(k.leaseChannel())).toBeUndefined();
    expect(hashTag(k.botInfo("123"))).toBeUndefined();
    expect(hashTag(k.floodPrefix())).toBeUndefined();
  });

  it("keeps the keys of two bots apart", () => {
    const a = k.session("a", "1");
    const b = k.session("ab", "1");
    expect(a).not.toBe(b);
    expect(k.plugin("ns", "a", "b:1")).not.toBe(k.plugin("ns", "a:b", "1"));
  });
});

describe("legacyKeys", () => {
  it("pairs each old single key of the bot with its new name", () => {
    expect(legacyKeys("bh:", "shop").single).toEqual([
      ["bh:journal:shop", "bh:journal:{shop}"],
      ["bh:offset:shop", "bh:offset:{shop}"],
      ["bh:done:shop", "bh:done:{shop}"],
      ["bh:throttle:shop:sent", "bh:throttle:{shop}:sent"],
    ]);
    expect(legacyKeys("", "a").single).toEqual([
      ["journal:a", "journal:{a}"],
      ["offset:a", "offset:{a}"],
      ["done:a", "done:{a}"],
      ["throttle:a:sent", "throttle:{a}:sent"],
    ]);
  });

  it("names each new single key as createKeys does", () => {
    const keys = createKeys("bh:");
    expect(legacyKeys("bh:", "shop").single.map(([, to]) => to)).toEqual([
      keys.journal("shop"),
      keys.watermark("shop"),
      keys.done("shop"),
      keys.throttle("shop"),
    ]);
  });

  it("scans the bot's old session and plugin keys", () => {
    expect(legacyKeys("bh:", "shop").patterns.map((p) => p.match)).toEqual(["bh:session:shop:*", "bh:plugin:*:shop:*"]);
  });

  it("escapes glob characters of the prefix in the patterns, but not in the new names", () => {
    const legacy = legacyKeys("a*b?[c]\\:", "shop");
    expect(legacy.patterns.map((p) => p.match)).toEqual(["a\\*b\\?\\[c\\]\\\\:session:shop:*", "a\\*b\\?\\[c\\]\\\\:plugin:*:shop:*"]);
    expect(legacy.single[0]).toEqual(["a*b?[c]\\:journal:shop", "a*b?[c]\\:journal:{shop}"]);
    expect(legacy.patterns[0]!.rename("a*b?[c]\\:session:shop:9")).toBe("a*b?[c]\\:session:{shop}:9");
  });

  describe("session rename", () => {
    const rename = legacyKeys("bh:", "shop").patterns[0]!.rename;

    it("tags the bot id and keeps the chat key, colons and all", () => {
      expect(rename("bh:session:shop:123")).toBe("bh:session:{shop}:123");
      expect(rename("bh:session:shop:-100:42")).toBe("bh:session:{shop}:-100:42");
      expect(rename("bh:session:shop:")).toBe("bh:session:{shop}:");
    });

    it("rejects keys of another bot, another prefix or another kind", () => {
      expect(rename("bh:session:shop2:1")).toBeUndefined();
      expect(rename("bh:session:sho:1")).toBeUndefined();
      expect(rename("other:session:shop:1")).toBeUndefined();
      expect(rename("bh:plugin:ns:shop:1")).toBeUndefined();
      expect(rename("bh:session:{shop}:1")).toBeUndefined();
    });
  });

  describe("plugin rename", () => {
    const rename = legacyKeys("bh:", "shop").patterns[1]!.rename;

    it("tags the bot id and keeps the namespace and the plugin's key", () => {
      expect(rename("bh:plugin:conversations:shop:42")).toBe("bh:plugin:conversations:{shop}:42");
      expect(rename("bh:plugin:i18n.v2_x-y:shop:a:b:c")).toBe("bh:plugin:i18n.v2_x-y:{shop}:a:b:c");
      expect(rename("bh:plugin:ns:shop:")).toBe("bh:plugin:ns:{shop}:");
    });

    it("rejects a key of another bot that the pattern's `*` also matches", () => {
      // `bh:plugin:*:shop:*` matches these, but their bot is `other` (the plugin's own key holds `:shop:`).
      expect(rename("bh:plugin:ns:other:shop:1")).toBeUndefined();
      expect(rename("bh:plugin:ns:other:x:shop:1")).toBeUndefined();
      expect(rename("bh:plugin:ns:shop2:1")).toBeUndefined();
    });

    it("rejects keys already in the new layout, of another prefix, or with an unusual namespace", () => {
      expect(rename("bh:plugin:ns:{shop}:1")).toBeUndefined();
      expect(rename("bh:plugin:ns:{other}:shop:1")).toBeUndefined();
      expect(rename("xx:plugin:ns:shop:1")).toBeUndefined();
      expect(rename("bh:session:shop:1")).toBeUndefined();
      expect(rename("bh:plugin::shop:1")).toBeUndefined();
      expect(rename("bh:plugin:a b:shop:1")).toBeUndefined();
      expect(rename(`bh:plugin:${"n".repeat(65)}:shop:1`)).toBeUndefined();
      expect(rename(`bh:plugin:${"n".repeat(64)}:shop:1`)).toBe(`bh:plugin:${"n".repeat(64)}:{shop}:1`);
      expect(rename("bh:plugin:ns:shop")).toBeUndefined();
    });
  });
});
