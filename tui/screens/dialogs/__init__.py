"""Modal dialogs: pickers and column choosers, small inputs, and the registry writes' flow
(plan -> confirm -> apply) with its confirmation. Screens push them; they return a value."""
