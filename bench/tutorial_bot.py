"""The tutorial's streaming chatbot (../shared/seed-tutorial.txt, Episode 4),
the baseline chinwag is measured against.

    python bench/tutorial_bot.py            # the tutorial's REPL, verbatim
    python bench/tutorial_bot.py "hi"       # one-shot: the same call, once

The only changes from the tutorial: the base URL comes from
ANTHROPIC_BASE_URL (the SDK reads it by itself; `--base-url URL` sets it
too), and given a prompt on the command line it answers once and exits
(no banner, no label), so its first byte on stdout is the first text.
"""

import os
import sys

if len(sys.argv) > 2 and sys.argv[1] == "--base-url":
    os.environ["ANTHROPIC_BASE_URL"] = sys.argv[2]
    del sys.argv[1:3]

from dotenv import load_dotenv  # noqa: E402
from anthropic import Anthropic  # noqa: E402

load_dotenv()

client = Anthropic()


def one_shot(prompt):
    with client.messages.stream(
        model="claude-sonnet-4-20250514",
        max_tokens=200,
        system="You are a helpful assistant. Keep responses brief and clear.",
        messages=[{"role": "user", "content": prompt}],
    ) as stream:
        for text in stream.text_stream:
            print(text, end="", flush=True)
    print()


def repl():
    history = []

    print("Streaming Chatbot! Type quit to exit.\n")

    while True:
        user_input = input("You: ")
        if user_input.lower() == "quit":
            break

        history.append({"role": "user", "content": user_input})

        print("Claude: ", end="", flush=True)

        with client.messages.stream(
            model="claude-sonnet-4-20250514",
            max_tokens=200,
            system="You are a helpful assistant. Keep responses brief and clear.",
            messages=history,
        ) as stream:
            full_response = ""
            for text in stream.text_stream:
                print(text, end="", flush=True)
                full_response += text

        print("\n")

        history.append({"role": "assistant", "content": full_response})

    print("Goodbye!")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        one_shot(" ".join(sys.argv[1:]))
    else:
        repl()
