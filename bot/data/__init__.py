"""Files shipped with the bot: the reviewed seed catalog, the seed text, the demo org and cases."""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
