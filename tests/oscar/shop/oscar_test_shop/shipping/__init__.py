"""Oscar's shipping app, forked the way oscar documents it, for one thing: a paid shipping method,
so that orders carry freight and the first invoice of a part-delivered order carries it (oscar's
own repository offers free shipping only)."""
