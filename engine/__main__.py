from engine.runner import main

main()
