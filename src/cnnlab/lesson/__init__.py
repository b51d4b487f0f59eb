"""The CNN episode's exercise page, answered from computed numbers (`cnnlab lesson`).

- answers.py: questions 1-3 from the model code alone (no data, no torch);
- run.py: trains the lesson's models per dataset and puts the page together (`run_lesson`);
- commands.py: `main`, the CLI entry for either edition;
- observations.py: sentences computed from the trained runs;
- page.py: the HTML page;
- editions.py: the Dollar Street 10 edition (`cnnlab lesson --edition dollar-street`), its
  questions in dollar_street.py and its dropout sweep and grid search in tuning.py.
"""

from cnnlab.lesson.commands import main
from cnnlab.lesson.run import LESSON_MODELS, LessonResult, run_lesson

__all__ = ["LESSON_MODELS", "LessonResult", "main", "run_lesson"]
