// The bench app, run by the host (as `app:`) and by the baseline's plain grammY bots alike.
// Message text: "<stamp> [<sleep ms>] [b]"; stamp = performance.now() of the injection at the fake.
// It counts the chat's messages in the session (read + write), optionally replies "begin <text>" first (b),
// sleeps (a slow handler), then replies "<count>|<text>" (the fake reads the stamp back for the latency).
import { Composer } from "grammy";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function handle(ctx) {
  const text = ctx.message.text;
  const session = ctx.session;
  const count = (typeof session.count === "number" ? session.count : 0) + 1;
  session.count = count;
  const [, ms, begin] = text.split(" ");
  if (begin === "b") await ctx.reply(`begin ${text}`);
  if (ms !== undefined && ms !== "0") await sleep(Number(ms));
  await ctx.reply(`${count}|${text}`);
}

const app = new Composer();
app.on("message:text", handle);
export default app;
